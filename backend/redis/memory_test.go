package redis_test

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// TestBytesPerJob measures what Redis holds per waiting job and per retained completed job
// (used_memory deltas over 10,000 jobs with a small payload, events included) on a private
// server, for jobs with IDs a caller chose (the enqueue script, which indexes every ID) and for
// jobs with IDs asyncmq made (the plain enqueue, which does not), and keeps the figures from
// growing unnoticed.
func TestBytesPerJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		plain bool
	}{{"chosen IDs", false}, {"asyncmq IDs", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bytesPerJob(t, tt.plain)
		})
	}
}

func bytesPerJob(t *testing.T, plain bool) {
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
	var sampleID string
	for i := 0; i < n; i += 500 {
		var jobs []*asyncmqtype.JobInfo
		now := time.Now()
		for k := i; k < i+500; k++ {
			j := &asyncmqtype.JobInfo{ID: fmt.Sprintf("01JB%022d", k), Queue: "mem", Task: "bench.noop", Payload: []byte(fmt.Sprintf(`{"i":%d}`, k)), Priority: 5, MaxRetries: 3}
			if plain {
				j.ID, j.RunAt, j.CreatedAt = asyncmq.NewID(), now, now
			}
			jobs = append(jobs, j)
		}
		sampleID = jobs[7].ID
		if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: plain}); err != nil {
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
	sample := raw.MemoryUsage(ctx, "asyncmq:{mem}:j:"+sampleID).Val()
	t.Logf("per waiting job: %.0f bytes; per retained completed job: %.0f bytes; MEMORY USAGE of one completed job hash: %d bytes", perWaiting, perCompleted, sample)
	if perWaiting > 1000 || perCompleted > 1000 {
		t.Errorf("per job: %.0f bytes waiting, %.0f completed; want under 1000", perWaiting, perCompleted)
	}
}

// TestEnqueueKeepsNoPayloads: once a plain enqueue has returned and its caller dropped the jobs,
// the store keeps none of their payloads (its lanes reuse their scratch memory between
// transactions, which must not pin the last batch's text). Not parallel: it reads the heap.
func TestEnqueueKeepsNoPayloads(t *testing.T) {
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// A first call, so that what the store keeps for good (key names, pools) is in the baseline.
	enqueue := func(payload int) {
		t.Helper()
		now := time.Now()
		var jobs []*asyncmqtype.JobInfo
		for i := range 100 {
			jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("%d-%d-%d", payload, i, now.UnixNano()), Queue: "hq", Task: "t",
				Payload: []byte(`"` + strings.Repeat("x", payload) + `"`), RunAt: now, CreatedAt: now})
		}
		if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: true}); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(10)
	before := heap()
	enqueue(100_000) // 10 MB of payloads
	if after := heap(); after > before+3<<20 {
		t.Fatalf("the heap grew by %d bytes after the jobs were dropped; want well under the 10 MB of their payloads", after-before)
	}
}
