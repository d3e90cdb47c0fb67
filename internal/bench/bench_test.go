package bench

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		backend string
		cfg     Config
	}{
		{name: "memory producers", backend: "memory", cfg: Config{Jobs: 2000, Producers: 3, Concurrency: 20}},
		{name: "memory bulk", backend: "memory", cfg: Config{Jobs: 2500, Producers: 2, Concurrency: 10, Bulk: true, BatchSize: 300}},
		{name: "memory overlap", backend: "memory", cfg: Config{Jobs: 1000, Producers: 2, Concurrency: 10, Overlap: true}},
		{name: "sqlite bulk", backend: "sqlite", cfg: Config{Jobs: 1500, Producers: 1, Concurrency: 50, Bulk: true}},
		{name: "sqlite producers", backend: "sqlite", cfg: Config{Jobs: 300, Producers: 4, Concurrency: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := open(t, tt.backend)
			tt.cfg.BackendName = tt.backend
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := Run(ctx, b, tt.cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Jobs != tt.cfg.Jobs || res.Backend != tt.backend || res.Concurrency != tt.cfg.Concurrency || res.Bulk != tt.cfg.Bulk {
				t.Errorf("result echoes the config wrongly: %+v", res)
			}
			if !strings.HasPrefix(res.Queue, "bench-") {
				t.Errorf("queue = %q, want a fresh bench- queue", res.Queue)
			}
			if res.EnqueueJobsPerSec <= 0 || res.ProcessJobsPerSec <= 0 || res.LatencyP50Ms <= 0 || res.LatencyP50Ms > res.LatencyP99Ms {
				t.Errorf("implausible figures: %+v", res)
			}
			q, err := b.Queue(ctx, res.Queue)
			if err != nil || q.Counts[asyncmqtype.StateCompleted] != tt.cfg.Jobs || q.Total() != tt.cfg.Jobs {
				t.Errorf("queue after the run: %+v, %v; want %d completed jobs and nothing else", q.Counts, err, tt.cfg.Jobs)
			}
			raw, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{`"enqueue_jobs_per_s"`, `"process_jobs_per_s"`, `"latency_p50_ms"`, `"latency_p99_ms"`, `"jobs"`, `"backend"`, `"producers"`, `"concurrency"`, `"bulk"`} {
				if !strings.Contains(string(raw), key) {
					t.Errorf("JSON %s lacks %s", raw, key)
				}
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{Jobs: -1}, {Producers: -1}, {Concurrency: -2}, {BatchSize: -5}, {Rate: -1}, {Rate: 100, Bulk: true}} {
		if _, err := Run(context.Background(), memory.New(), cfg); err == nil {
			t.Errorf("Run(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestRunPaced checks that Rate spreads the enqueues over time: 300 jobs at 3,000 jobs/s cannot be
// enqueued in less than 99.7 ms (the last job is due at 299/3000 s), however fast the store.
func TestRunPaced(t *testing.T) {
	t.Parallel()
	b := memory.New()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Run(ctx, b, Config{Jobs: 300, Producers: 4, Concurrency: 10, Overlap: true, Rate: 3000})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Rate != 3000 {
		t.Errorf("result Rate = %v, want 3000", res.Rate)
	}
	if least := 299.0 / 3000; res.EnqueueSeconds < least {
		t.Errorf("300 jobs at 3,000/s were enqueued in %.4f s, sooner than the schedule allows (%.4f s)", res.EnqueueSeconds, least)
	}
	q, err := b.Queue(ctx, res.Queue)
	if err != nil || q.Counts[asyncmqtype.StateCompleted] != 300 {
		t.Errorf("queue after the run: %+v, %v; want 300 completed jobs", q.Counts, err)
	}
}

// gatedBackend holds the worker's registration until a producer has tried to enqueue, and counts
// the worker's deregistrations.
type gatedBackend struct {
	backend.Store
	enqueued    chan struct{}
	enqueueOnce sync.Once
	removed     atomic.Int32
}

func (g *gatedBackend) Enqueue(ctx context.Context, p backend.EnqueueParams) error {
	g.enqueueOnce.Do(func() { close(g.enqueued) })
	return g.Store.Enqueue(ctx, p)
}

func (g *gatedBackend) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	<-g.enqueued
	return g.Store.Heartbeat(ctx, p)
}

func (g *gatedBackend) RemoveWorker(ctx context.Context, id string) error {
	g.removed.Add(1)
	return g.Store.RemoveWorker(ctx, id)
}

func TestRunWaitsForWorkerOnEarlyReturn(t *testing.T) {
	t.Parallel()
	g := &gatedBackend{Store: memory.New(), enqueued: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the enqueue fails at once, with the worker already started
	if _, err := Run(ctx, g, Config{Jobs: 10, Overlap: true}); err == nil {
		t.Fatal("Run with a cancelled context succeeded, want an error")
	}
	if n := g.removed.Load(); n != 1 {
		t.Errorf("worker deregistered %d times before Run returned, want 1: Run left its worker running", n)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want float64
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7},
		{ms(1, 2, 3, 4), 0.5, 2},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.5, 5},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %g) = %g, want %g", tt.in, tt.p, got, tt.want)
		}
	}
}

func open(t *testing.T, kind string) backend.Store {
	t.Helper()
	var b backend.Store
	if kind == "memory" {
		b = memory.New()
	} else {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bench.db"))
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		b = s
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
