package sqlite

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// The benchmarks report jobs/s next to ns/op. They run on a copy of the empty template (or on
// the shared million-job fixture), with the default options.

func benchBackend(b *testing.B, path string) *Backend {
	b.Helper()
	be, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	return be
}

// cpuTime is the CPU time the process has used. On a machine shared with other work, the CPU
// cost per job is steadier than the wall-clock rate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportJobs reports the job rate and the CPU time per job since cpuStart.
func reportJobs(b *testing.B, jobs int, cpuStart time.Duration) {
	b.ReportMetric(float64(jobs)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64((cpuTime()-cpuStart).Microseconds())/float64(jobs), "cpu-µs/job")
}

// BenchmarkEnqueue measures enqueues of one job and of batches; the traceparent case gives each
// job the header a tracing client adds (asyncmqotel), to show what storing headers costs.
func BenchmarkEnqueue(b *testing.B) {
	traceparent := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	for _, bc := range []struct {
		name    string
		size    int
		headers map[string]string
	}{{"batch=1", 1, nil}, {"batch=100", 100, nil}, {"batch=100-traceparent", 100, traceparent}} {
		b.Run(bc.name, func(b *testing.B) {
			be := benchBackend(b, FreshDB(b))
			ctx := b.Context()
			n := 0
			cpu := cpuTime()
			for b.Loop() {
				jobs := make([]*asyncmqtype.JobInfo, bc.size)
				for i := range jobs {
					jobs[i] = newJob(fmt.Sprintf("j-%09d", n), "q")
					jobs[i].Headers = bc.headers
					n++
				}
				if err := be.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs}); err != nil {
					b.Fatal(err)
				}
			}
			reportJobs(b, n, cpu)
		})
	}
}

// BenchmarkEnqueueConcurrent enqueues one job per call from 16 goroutines, as web handlers do;
// the calls share transactions.
func BenchmarkEnqueueConcurrent(b *testing.B) {
	be := benchBackend(b, FreshDB(b))
	var n atomic.Int64
	cpu := cpuTime()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("j-%09d", n.Add(1))
			if err := be.Enqueue(b.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob(id, "q")}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportJobs(b, int(n.Load()), cpu)
}

// fill enqueues n jobs into queue in batches of 1,000.
func fill(b *testing.B, be *Backend, queue string, n int) {
	b.Helper()
	for i := 0; i < n; i += 1000 {
		jobs := make([]*asyncmqtype.JobInfo, 0, 1000)
		for k := i; k < min(n, i+1000); k++ {
			jobs = append(jobs, newJob(fmt.Sprintf("%s-%09d", queue, k), queue))
		}
		if err := be.Enqueue(b.Context(), backend.EnqueueParams{Jobs: jobs}); err != nil {
			b.Fatal(err)
		}
	}
}

// claimFinish claims up to batch jobs of queue and completes them, in two transactions.
func claimFinish(ctx context.Context, be *Backend, queue, worker string, batch int) (int, error) {
	jobs, err := be.Claim(ctx, backend.ClaimParams{Queue: queue, WorkerID: worker, Limit: batch, LeaseDuration: time.Minute})
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	items := make([]backend.Finish, len(jobs))
	for i, j := range jobs {
		items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Millisecond}
	}
	errs, err := be.Finish(ctx, backend.FinishParams{Items: items})
	if err != nil {
		return 0, err
	}
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return len(jobs), nil
}

// BenchmarkClaimFinish is one worker cycle: claim a batch, complete it in one Finish.
func BenchmarkClaimFinish(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			be := benchBackend(b, FreshDB(b))
			ctx := b.Context()
			fill(b, be, "q", b.N*batch)
			b.ResetTimer()
			cpu := cpuTime()
			done := 0
			for range b.N {
				n, err := claimFinish(ctx, be, "q", "w", batch)
				if err != nil {
					b.Fatal(err)
				}
				done += n
			}
			b.StopTimer()
			if done != b.N*batch {
				b.Fatalf("processed %d jobs, want %d", done, b.N*batch)
			}
			reportJobs(b, done, cpu)
		})
	}
}

// BenchmarkPipeline runs what `asyncmq bench` does in one process: a producer enqueues bulks of
// 100 while 50 workers claim and complete batches of up to 100; an op is one job.
func BenchmarkPipeline(b *testing.B) {
	be := benchBackend(b, FreshDB(b))
	ctx := b.Context()
	total := b.N
	cpu := cpuTime()
	var produced sync.WaitGroup
	produced.Go(func() {
		for i := 0; i < total; i += 100 {
			jobs := make([]*asyncmqtype.JobInfo, 0, 100)
			for k := i; k < min(total, i+100); k++ {
				jobs = append(jobs, newJob(fmt.Sprintf("j-%09d", k), "q"))
			}
			if err := be.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	var mu sync.Mutex
	done := 0
	var workers sync.WaitGroup
	for w := range 50 {
		workers.Go(func() {
			for {
				mu.Lock()
				left := total - done
				mu.Unlock()
				if left <= 0 || b.Failed() {
					return
				}
				n, err := claimFinish(ctx, be, "q", fmt.Sprint("w", w), min(100, max(left/50, 1)))
				if err != nil {
					b.Error(err)
					return
				}
				if n == 0 {
					time.Sleep(time.Millisecond)
				}
				mu.Lock()
				done += n
				mu.Unlock()
			}
		})
	}
	produced.Wait()
	workers.Wait()
	reportJobs(b, done, cpu)
}

const bigQueueJobs = 1_000_000

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
)

// bigFixture returns a database whose queue "big" holds a million waiting jobs, built once per
// test binary with one INSERT ... SELECT (the jobs table and its indexes as Enqueue leaves them)
// and kept in the template folder until the binary exits.
func bigFixture(b *testing.B) string {
	b.Helper()
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "asyncmq-sqlite-big")
		if err != nil {
			bigErr = err
			return
		}
		bigCleanup = func() { os.RemoveAll(dir) }
		path := filepath.Join(dir, "big.db")
		if err := os.WriteFile(path, templateDB, 0o644); err != nil {
			bigErr = err
			return
		}
		be, err := Open(context.Background(), path)
		if err != nil {
			bigErr = err
			return
		}
		defer be.Close()
		start := t0.UnixNano()
		bigErr = be.write(context.Background(), t0, func(w *wtx) error {
			if err := w.script(fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
INSERT INTO asyncmq_jobs (id, queue, task, payload, state, priority, run_at, created_at)
SELECT printf('big-%%07d', i), 'big', CASE i %% 3 WHEN 0 THEN 'email.send' WHEN 1 THEN 'report.build' ELSE 'image.resize' END,
	'{"n":' || i || '}', 'waiting', 5, %d + i * 1000, %d + i * 1000 FROM n`, bigQueueJobs-1, start, start)); err != nil {
				return err
			}
			w.count("big", "", asyncmqtype.StateWaiting)
			w.counts["big"][stateIndex(asyncmqtype.StateWaiting)] = bigQueueJobs
			for i := range 20 {
				w.touch(fmt.Sprintf("queue-%02d", i))
			}
			return nil
		})
		bigPath = path
	})
	if bigErr != nil {
		b.Fatalf("build the million-job fixture: %v", bigErr)
	}
	return bigPath
}

// bigCleanup removes the fixture; TestMain calls it.
var bigCleanup = func() {}

// BenchmarkListJobs reads pages of a million waiting jobs from anchors (the default) and, in the
// same run, with offsets alone. The anchors are found before the timer starts; BenchmarkAnchorWalk
// measures what finding them costs.
func BenchmarkListJobs(b *testing.B) {
	path := bigFixture(b)
	for _, mode := range []string{"anchors", "offset"} {
		be := benchBackend(b, path)
		if mode == "offset" {
			be.anchors.step = math.MaxInt
		}
		be.anchors.ttl = time.Hour
		for _, tt := range []struct {
			name   string
			sort   asyncmqtype.Sort
			offset int
		}{
			{"newest/offset=0", asyncmqtype.SortNewest, 0},
			{"newest/offset=100000", asyncmqtype.SortNewest, 100_000},
			{"oldest/offset=100000", asyncmqtype.SortOldest, 100_000},
			{"oldest/offset=900000", asyncmqtype.SortOldest, 900_000},
		} {
			b.Run(mode+"/"+tt.name, func(b *testing.B) {
				p := asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "big", State: asyncmqtype.StateWaiting}, Sort: tt.sort, Offset: tt.offset, Limit: 20}
				list := func() {
					page, err := be.ListJobs(b.Context(), p)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Jobs) != 20 || page.Total != bigQueueJobs {
						b.Fatalf("page of %d jobs, total %d", len(page.Jobs), page.Total)
					}
				}
				list()
				cpu := cpuTime()
				for b.Loop() {
					list()
				}
				b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

// BenchmarkAnchorWalk is the cost of the first deep page after the anchors expired: the walk
// to offset 100,000 and the page, beside the OFFSET scan of that page ("offset").
func BenchmarkAnchorWalk(b *testing.B) {
	path := bigFixture(b)
	for _, mode := range []string{"walk", "offset"} {
		be := benchBackend(b, path)
		be.anchors.ttl = 0
		if mode == "offset" {
			be.anchors.step = math.MaxInt
		}
		for _, sort := range []asyncmqtype.Sort{asyncmqtype.SortNewest, asyncmqtype.SortOldest} {
			b.Run(mode+"/"+string(sort), func(b *testing.B) {
				p := asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "big", State: asyncmqtype.StateWaiting}, Sort: sort, Offset: 100_000, Limit: 20}
				cpu := cpuTime()
				for b.Loop() {
					if _, err := be.ListJobs(b.Context(), p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

func BenchmarkQueues(b *testing.B) {
	be := benchBackend(b, bigFixture(b))
	for b.Loop() {
		qs, err := be.Queues(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if len(qs) != 21 {
			b.Fatalf("%d queues", len(qs))
		}
	}
}
