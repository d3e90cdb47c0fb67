package redis_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// TestBytesPerJob measures what Redis holds per waiting job and per retained completed job
// (used_memory deltas over 10,000 jobs with a small payload, events included) on a private
// server, and keeps the figures from growing unnoticed.
func TestBytesPerJob(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := openStore(t, srv.URL()+"?events=1000")
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer raw.Close()
	ctx := t.Context()
	used := func() int64 {
		info := raw.Info(ctx, "memory").Val()
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no used_memory in INFO")
		return 0
	}
	const n = 10_000
	// Warm the queue's keys so the per-job figure excludes them.
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{{ID: "warm", Queue: "mem", Task: "bench.noop", Payload: []byte(`{"i":0}`)}}}); err != nil {
		t.Fatal(err)
	}
	before := used()
	for i := 0; i < n; i += 500 {
		var jobs []*asyncmqtype.JobInfo
		for k := i; k < i+500; k++ {
			jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("01JB%022d", k), Queue: "mem", Task: "bench.noop", Payload: []byte(fmt.Sprintf(`{"i":%d}`, k)), Priority: 5, MaxRetries: 3})
		}
		if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs}); err != nil {
			t.Fatal(err)
		}
	}
	waiting := used()
	for done := 0; done < n; {
		jobs, err := s.Claim(ctx, backend.ClaimParams{Queue: "mem", WorkerID: "w", Limit: 500, LeaseDuration: 30e9})
		if err != nil {
			t.Fatal(err)
		}
		items := make([]backend.Finish, len(jobs))
		for i, j := range jobs {
			items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
		}
		if _, err := s.Finish(ctx, backend.FinishParams{Items: items}); err != nil {
			t.Fatal(err)
		}
		done += len(jobs)
	}
	completed := used()
	perWaiting := float64(waiting-before) / n
	perCompleted := float64(completed-before) / n
	sample := raw.MemoryUsage(ctx, "asyncmq:{mem}:j:01JB"+fmt.Sprintf("%022d", 7)).Val()
	t.Logf("per waiting job: %.0f bytes; per retained completed job: %.0f bytes; MEMORY USAGE of one completed job hash: %d bytes", perWaiting, perCompleted, sample)
	if perWaiting > 1000 || perCompleted > 1000 {
		t.Errorf("per job: %.0f bytes waiting, %.0f completed; want under 1000", perWaiting, perCompleted)
	}
}
