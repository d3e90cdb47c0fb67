package asyncmq

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

// BenchmarkEndToEnd measures the worker runtime: b.N no-op jobs are enqueued in bulk with the
// timer stopped, then one worker at concurrency 50 works them off; ns/op is per job and jobs/s
// the throughput, including the time to store every outcome.
func BenchmarkEndToEnd(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"memory", func(*testing.B) Store { return memory.New() }},
		{"sqlite", func(b *testing.B) Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			store := s.open(b)
			defer store.Close()
			ctx := context.Background()
			client := NewClient(store)
			queue := "bench-" + NewID()
			reqs := make([]Request, 0, 1000)
			for i := 0; i < b.N; i += len(reqs) {
				reqs = reqs[:0]
				for j := i; j < min(i+1000, b.N); j++ {
					reqs = append(reqs, Request{Task: "noop", Payload: []byte(`{"n":1}`), Options: []EnqueueOption{Queue(queue)}})
				}
				if _, err := client.EnqueueMany(ctx, reqs); err != nil {
					b.Fatal(err)
				}
			}

			var finished atomic.Int64
			done := make(chan struct{})
			mux := NewServeMux()
			mux.HandleFunc("noop", func(context.Context, *Job) error { return nil })
			w, err := NewWorker(store, mux, WorkerConfig{
				Queues:    map[string]int{queue: 50},
				Logger:    slog.New(slog.DiscardHandler),
				Retention: &Retention{},
				OnEvent: func(e WorkerEvent) {
					if e.Kind == WorkerJobFinished && finished.Add(1) == int64(b.N) {
						close(done)
					}
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			go func() { _ = w.Run(ctx) }()
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
			_ = w.Shutdown(ctx)
		})
	}
}
