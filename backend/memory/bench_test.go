package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

var benchNow = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

func benchJobs(prefix string, n, priority int) []*asyncmqtype.JobInfo {
	jobs := make([]*asyncmqtype.JobInfo, n)
	for i := range jobs {
		jobs[i] = &asyncmqtype.JobInfo{
			ID: fmt.Sprintf("%s-%09d", prefix, i), Queue: "bench", Task: "email.send",
			Payload: []byte(`{"to":"someone@example.com","n":42}`), Priority: priority,
		}
	}
	return jobs
}

// backlog fills a backend with n waiting jobs that the benchmark never claims (they have the
// lowest priority), so every operation works against indexes of that size.
func backlog(b *testing.B, n int) *memory.Backend {
	b.Helper()
	mb := memory.New(memory.WithEventLimit(1000))
	for i := 0; i < n; i += 1000 {
		if err := mb.Enqueue(b.Context(), backend.EnqueueParams{Jobs: benchJobs(fmt.Sprintf("backlog%d", i), min(1000, n-i), 99), Now: benchNow}); err != nil {
			b.Fatal(err)
		}
	}
	return mb
}

// cpuMeter measures the process CPU time of a benchmark loop, minus the pauses the benchmark
// takes out of its timer.
type cpuMeter struct {
	started    bool
	start, out time.Duration
	pausedAt   time.Duration
}

// loop wraps b.Loop and starts the meter on the first iteration, after the setup.
func (m *cpuMeter) loop(b *testing.B) bool {
	if !m.started {
		m.started, m.start = true, processCPU()
	}
	return b.Loop()
}

func (m *cpuMeter) pause(b *testing.B) {
	b.StopTimer()
	m.pausedAt = processCPU()
}

func (m *cpuMeter) resume(b *testing.B) {
	m.out += processCPU() - m.pausedAt
	b.StartTimer()
}

// report adds ns/job (wall) and cpu-ns/job (process CPU, which includes the garbage collector).
func (m *cpuMeter) report(b *testing.B, jobs int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(jobs), "ns/job")
	b.ReportMetric(float64((processCPU()-m.start-m.out).Nanoseconds())/float64(jobs), "cpu-ns/job")
}

func BenchmarkEnqueue(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			mb := memory.New(memory.WithEventLimit(1000))
			ctx := b.Context()
			var cpu cpuMeter
			i := 0
			for cpu.loop(b) {
				if err := mb.Enqueue(ctx, backend.EnqueueParams{Jobs: benchJobs(fmt.Sprint(i), batch, 5), Now: benchNow}); err != nil {
					b.Fatal(err)
				}
				if i++; i%(10_000/batch+1) == 0 {
					cpu.pause(b)
					if _, err := mb.Drain(ctx, "bench", false); err != nil {
						b.Fatal(err)
					}
					cpu.resume(b)
				}
			}
			cpu.report(b, b.N*batch)
		})
	}
}

// BenchmarkClaimFinish measures one worker's cycle: enqueue a batch, claim it, complete it in one
// Finish call. Completed jobs are cleaned outside the timer so the store keeps its size.
func BenchmarkClaimFinish(b *testing.B) {
	for _, size := range []int{1_000, 100_000} {
		for _, batch := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("backlog=%d/batch=%d", size, batch), func(b *testing.B) {
				mb := backlog(b, size)
				ctx := b.Context()
				items := make([]backend.Finish, batch)
				var cpu cpuMeter
				i := 0
				for cpu.loop(b) {
					if err := mb.Enqueue(ctx, backend.EnqueueParams{Jobs: benchJobs(fmt.Sprint(i), batch, 0), Now: benchNow}); err != nil {
						b.Fatal(err)
					}
					jobs, err := mb.Claim(ctx, backend.ClaimParams{Queue: "bench", WorkerID: "w", Limit: batch, LeaseDuration: time.Minute, Now: benchNow})
					if err != nil || len(jobs) != batch {
						b.Fatalf("claimed %d of %d: %v", len(jobs), batch, err)
					}
					for k, j := range jobs {
						items[k] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
					}
					if _, err := mb.Finish(ctx, backend.FinishParams{Items: items, Now: benchNow}); err != nil {
						b.Fatal(err)
					}
					if i++; i%(10_000/batch+1) == 0 {
						cpu.pause(b)
						if _, err := mb.Clean(ctx, backend.CleanParams{Queue: "bench", State: asyncmqtype.StateCompleted}); err != nil {
							b.Fatal(err)
						}
						cpu.resume(b)
					}
				}
				cpu.report(b, b.N*batch)
			})
		}
	}
}

// BenchmarkListJobs reads a page of 50 near the start and deep into 100,000 waiting jobs; its
// per-job figures are per listed job.
func BenchmarkListJobs(b *testing.B) {
	mb := backlog(b, 100_000)
	for _, offset := range []int{0, 90_000} {
		b.Run(fmt.Sprintf("offset=%d", offset), func(b *testing.B) {
			p := asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "bench", State: asyncmqtype.StateWaiting}, Offset: offset, Limit: 50}
			var cpu cpuMeter
			for cpu.loop(b) {
				page, err := mb.ListJobs(b.Context(), p)
				if err != nil || len(page.Jobs) != 50 {
					b.Fatalf("listed %d: %v", len(page.Jobs), err)
				}
			}
			cpu.report(b, b.N*50)
		})
	}
}
