package redis_test

import (
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestMetricBucketsExpire checks that the per-queue and the per-task hash of a minute both carry
// the eight-day expiry, so metrics do not outlive their retention.
func TestMetricBucketsExpire(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	ctx := t.Context()
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{{ID: "a", Queue: "q", Task: "t", Payload: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	raw := rawClient(t, url)
	keys, err := raw.Keys(ctx, prefix+"*:m:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("metric keys %v, want the minute's queue and task hashes", keys)
	}
	for _, k := range keys {
		if ttl := raw.TTL(ctx, k).Val(); ttl <= 7*24*time.Hour || ttl > 8*24*time.Hour {
			t.Errorf("key %s expires in %s, want eight days", k, ttl)
		}
	}
}
