package redis_test

import (
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// A plain enqueue leaves the IDs asyncmq made out of the ID index, which costs Redis a fifth of a
// bulk enqueue, and indexes any other ID; a job either way is found by ID (the conformance test
// FreshIDsFoundByIDAndNeverTakenTwice checks the rest).
func TestSealedIDsLeftOutOfTheIDIndex(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	ctx := t.Context()
	now := time.Now()
	sealed, other := asyncmq.NewID(), "order-17"
	var jobs []*asyncmqtype.JobInfo
	for _, id := range []string{sealed, other} {
		jobs = append(jobs, &asyncmqtype.JobInfo{ID: id, Queue: "q", Task: "t", RunAt: now, CreatedAt: now})
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: true}); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	index := raw.HGetAll(ctx, prefix+":jobq").Val()
	if len(index) != 1 || index[other] != "q" {
		t.Fatalf("the ID index holds %v, want only %s -> q", index, other)
	}
	for _, id := range []string{sealed, other} {
		if j, err := s.GetJob(ctx, id); err != nil || j.Queue != "q" || j.State != asyncmqtype.StateWaiting {
			t.Fatalf("get job %s: %+v, %v; want it waiting in q", id, j, err)
		}
	}
}
