package redis_test

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// BenchmarkInstructions drives a redis-server that runs under callgrind, which
// scripts/redis-callgrind.sh starts and names in ASYNCMQ_CALLGRIND_URL and ASYNCMQ_CALLGRIND_PID.
// Around each phase it zeroes the server's counters and dumps them, so the script can print the
// instructions Redis spent per job on it: unlike CPU time on a shared machine, the count repeats
// to a hundredth of a percent, so a change of a few percent in a script shows. Phases, 2,000 jobs
// each: single enqueues from 25 goroutines, bulk enqueues of 500, claims of 25, outcomes of 18.
func BenchmarkInstructions(b *testing.B) {
	url, pid := os.Getenv("ASYNCMQ_CALLGRIND_URL"), os.Getenv("ASYNCMQ_CALLGRIND_PID")
	if url == "" || pid == "" {
		b.Skip("run by scripts/redis-callgrind.sh")
	}
	const n = 2000
	s, err := openStoreErr(b, url)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	phase := func(name string, run func()) {
		for _, arg := range []string{"-z", "-d"} {
			if arg == "-d" {
				run()
			}
			if out, err := exec.Command("callgrind_control", arg, pid).CombinedOutput(); err != nil {
				b.Fatalf("callgrind_control %s (phase %s): %v %s", arg, name, err, out)
			}
		}
		fmt.Printf("phase %s\n", name)
	}
	// One job through every phase first, in a queue of its own: the phases then count the steady
	// state, without the server compiling a script or loading a function on its first call.
	warm := benchJob(0, time.Now())
	warm.ID, warm.Queue = "warm-up", "warm"
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{warm}, Now: time.Now(), FreshIDs: true}); err != nil {
		b.Fatal(err)
	}
	wj, err := s.Claim(ctx, backend.ClaimParams{Queue: "warm", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute})
	if err != nil || len(wj) != 1 {
		b.Fatalf("warm-up claim: %d jobs, %v", len(wj), err)
	}
	if _, err := s.Finish(ctx, backend.FinishParams{Items: []backend.Finish{{JobID: wj[0].ID, LeaseToken: wj[0].LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Millisecond}}}); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		phase("single", func() {
			var wg sync.WaitGroup
			for g := range 25 {
				wg.Go(func() {
					for k := g; k < n; k += 25 {
						now := time.Now()
						p := backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{benchJob(int64(n+k), now)}, Now: now, FreshIDs: true}
						if err := s.Enqueue(ctx, p); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
		phase("bulk", func() {
			for i := 0; i < n; i += 500 {
				now := time.Now()
				var jobs []*asyncmqtype.JobInfo
				for k := i; k < i+500; k++ {
					jobs = append(jobs, benchJob(int64(k), now))
				}
				if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
		var claimed []*asyncmqtype.JobInfo
		phase("claim", func() {
			for len(claimed) < n {
				jobs, err := s.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: "w", Limit: 25, LeaseDuration: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				if len(jobs) == 0 {
					b.Fatalf("claimed %d jobs of %d, then none", len(claimed), n)
				}
				claimed = append(claimed, jobs...)
			}
		})
		phase("finish", func() {
			for i := 0; i < len(claimed); i += 18 {
				var items []backend.Finish
				for _, j := range claimed[i:min(i+18, len(claimed))] {
					items = append(items, backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Millisecond})
				}
				if _, err := s.Finish(ctx, backend.FinishParams{Items: items}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
