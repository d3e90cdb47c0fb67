package redis_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/jobid"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// BenchmarkEnqueueParallel enqueues one job per call from many goroutines, as producers do:
// plain jobs as asyncmq.Client makes them (fresh IDs, stored without the enqueue script), and
// the same jobs with IDs a caller chose (every call runs the script).
func BenchmarkEnqueueParallel(b *testing.B) {
	forPaths(b, func(b *testing.B, s backend.Store, fresh bool) {
		var n atomic.Int64
		b.SetParallelism(25)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				now := time.Now()
				j := benchJob(n.Add(1), now)
				if err := s.Enqueue(b.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: now, FreshIDs: fresh}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// forPaths runs bench on a server of its own twice: with plain jobs (fresh) and with jobs
// every enqueue of which runs the script.
func forPaths(b *testing.B, bench func(b *testing.B, s backend.Store, fresh bool)) {
	for _, path := range enqueuePaths {
		fresh := path.plain
		b.Run(path.name, func(b *testing.B) {
			srv := redistest.Start(b)
			s, err := openBench(b, srv.URL())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			bench(b, s, fresh)
		})
	}
}

// benchJob is a job as asyncmq.Client builds it, with an ID of NewID's length.
func benchJob(k int64, now time.Time) *asyncmqtype.JobInfo {
	return &asyncmqtype.JobInfo{ID: benchID(k), Queue: "q", Task: "t",
		Payload: []byte(`{"n":1}`), Priority: 5, MaxRetries: 3, RunAt: now, CreatedAt: now}
}

// benchID is the k-th of a series of IDs of the form asyncmq.NewID gives, sealed as they are, so
// that a plain enqueue stores them as it stores the client's (k below 2^40).
func benchID(k int64) string {
	b := [16]byte{0x01, 0x9a, 0xef, 0x12, 0x34, 0x56, 0x7a, 0xbc, 0x80}
	for i := 13; i >= 9; i-- {
		b[i] = byte(k)
		k >>= 8
	}
	jobid.Seal(&b)
	return jobid.Text(&b)
}

// BenchmarkClaimFinish claims and completes jobs 50 at a time, as a worker at concurrency 50.
// Its redis-cpu-µs/op counts the claims and outcomes only, not the enqueue before them.
func BenchmarkClaimFinish(b *testing.B) {
	srv := redistest.Start(b)
	s, err := openBench(b, srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	enqueueBulk(b, s, b.N)
	restartRedisCPU(b)
	b.ResetTimer()
	for done := 0; done < b.N; {
		jobs, err := s.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: "w", Limit: 50, LeaseDuration: 30e9})
		if err != nil {
			b.Fatal(err)
		}
		items := make([]backend.Finish, len(jobs))
		for i, j := range jobs {
			items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
		}
		if _, err := s.Finish(ctx, backend.FinishParams{Items: items}); err != nil {
			b.Fatal(err)
		}
		done += len(jobs)
	}
}

// BenchmarkEnqueueBulk enqueues jobs 1,000 per call, as EnqueueMany does (see
// BenchmarkEnqueueParallel for the two paths).
func BenchmarkEnqueueBulk(b *testing.B) {
	forPaths(b, func(b *testing.B, s backend.Store, fresh bool) { enqueueBulkAs(b, s, b.N, fresh) })
}

func enqueueBulk(b *testing.B, s backend.Store, n int) { enqueueBulkAs(b, s, n, false) }

func enqueueBulkAs(b *testing.B, s backend.Store, n int, fresh bool) {
	for i := 0; i < n; i += 1000 {
		now := time.Now()
		var jobs []*asyncmqtype.JobInfo
		for k := i; k < min(i+1000, n); k++ {
			jobs = append(jobs, benchJob(int64(k), now))
		}
		if err := s.Enqueue(b.Context(), backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: fresh}); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuStart holds each benchmark's Redis CPU reading that redis-cpu-µs/op counts from.
var cpuStart = map[*testing.B]func(){}

// restartRedisCPU makes redis-cpu-µs/op count from now on.
func restartRedisCPU(b *testing.B) { cpuStart[b]() }

func openBench(b *testing.B, url string) (backend.Store, error) {
	s, err := openStoreErr(b, url)
	if err != nil {
		return nil, err
	}
	opt, _ := goredis.ParseURL(url)
	raw := goredis.NewClient(opt)
	cpu := func() float64 {
		var sum float64
		for _, l := range strings.Split(raw.Info(context.Background(), "cpu").Val(), "\r\n") {
			k, v, _ := strings.Cut(l, ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
		return sum
	}
	var start float64
	cpuStart[b] = func() { start = cpu() }
	b.Cleanup(func() {
		delete(cpuStart, b)
		b.ReportMetric((cpu()-start)*1e6/float64(b.N), "redis-cpu-µs/op")
		if os.Getenv("ASYNCMQ_BENCH_COMMANDSTATS") != "" {
			_ = os.WriteFile(os.Getenv("ASYNCMQ_BENCH_COMMANDSTATS"), []byte(raw.Info(context.Background(), "commandstats").Val()), 0o644)
		}
		raw.Close()
	})
	start = cpu()
	return s, nil
}
