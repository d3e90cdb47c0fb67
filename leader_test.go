package asyncmq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// partitioned is a store that one worker can lose contact with, as a process that died or was
// cut off from the store: once cut, every call fails.
type partitioned struct {
	Store
	cut atomic.Bool
}

var errPartitioned = errors.New("connection refused")

func (p *partitioned) Elect(ctx context.Context, e backend.ElectParams) (backend.Leadership, error) {
	if p.cut.Load() {
		return backend.Leadership{}, errPartitioned
	}
	return p.Store.Elect(ctx, e)
}

func (p *partitioned) Heartbeat(ctx context.Context, h backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	if p.cut.Load() {
		return backend.HeartbeatResult{}, errPartitioned
	}
	return p.Store.Heartbeat(ctx, h)
}

// TestMaintenanceLeaderFailover: of two workers one leads; when it loses the store, the other
// takes over within two lease periods and runs the maintenance (here: promoting a due job).
func TestMaintenanceLeaderFailover(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const lease = 600 * time.Millisecond
	cut := &partitioned{Store: tb.b}
	logs := []*eventLog{{changed: make(chan struct{})}, {changed: make(chan struct{})}}
	stores := []Store{cut, tb.b}
	leaderAt := make([]time.Time, 2)
	var mu sync.Mutex
	for i := range 2 {
		cfg := tb.fastConfig(map[string]int{"q": 1})
		cfg.LeaseDuration, cfg.HeartbeatInterval = lease, lease/3
		cfg.OnEvent = func(e WorkerEvent) {
			if e.Kind == WorkerLeader && e.Count == 1 {
				mu.Lock()
				leaderAt[i] = time.Now()
				mu.Unlock()
			}
			logs[i].record(e)
		}
		w, err := NewWorker(stores[i], tb.mux, cfg)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = w.Run(context.Background()) }()
		t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
		if i == 0 {
			logs[0].waitUntil(t, "worker 0 leads", func(evs []WorkerEvent) bool {
				return count(evs, func(e WorkerEvent) bool { return e.Kind == WorkerLeader && e.Count == 1 }) == 1
			})
		}
	}
	// Both run; only worker 0 leads.
	logs[1].waitUntil(t, "worker 1 heartbeats", func(evs []WorkerEvent) bool { return count(evs, isKind(WorkerHeartbeat)) >= 3 })
	evs, _ := logs[1].snapshot()
	if n := count(evs, isKind(WorkerScheduled)); n != 0 {
		t.Fatalf("worker 1 ran %d scheduling passes while worker 0 led", n)
	}

	cutAt := time.Now()
	cut.cut.Store(true)
	logs[1].waitUntil(t, "worker 1 takes over", func(evs []WorkerEvent) bool {
		return count(evs, func(e WorkerEvent) bool { return e.Kind == WorkerLeader && e.Count == 1 }) == 1
	})
	mu.Lock()
	took := leaderAt[1].Sub(cutAt)
	mu.Unlock()
	if took > 2*lease {
		t.Errorf("worker 1 took over %s after worker 0 was cut off, want within two lease periods (%s)", took, 2*lease)
	}
	// The old leader stops leading on its own once its lease could have expired.
	logs[0].waitUntil(t, "worker 0 steps down", func(evs []WorkerEvent) bool {
		return count(evs, func(e WorkerEvent) bool { return e.Kind == WorkerLeader && e.Count == 0 }) == 1
	})

	// The new leader runs the maintenance: a due delayed job is promoted and run.
	done := make(chan struct{})
	tb.mux.HandleFunc("late", func(context.Context, *Job) error { close(done); return nil })
	tb.enqueue(t, "late", nil, Queue("q"), Delay(50*time.Millisecond))
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("the delayed job never ran under the new leader")
	}
}

// TestRepeatableFiresOnceWhileTwoWorkersBothLead: a leader whose lease lapsed during a pause may
// still run a pass while the next leader runs one; the store's compare-and-set keeps each run of a
// repeatable to one job.
func TestRepeatableFiresOnceWhileTwoWorkersBothLead(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	r, err := NewInspector(tb.b).CreateRepeatable(ctx, RepeatableSpec{Queue: "cron", Task: "report", Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.NextRun = time.Now().Add(-time.Second).UTC()
	if err := tb.b.UpsertRepeatable(ctx, r); err != nil {
		t.Fatal(err)
	}
	var workers []*Worker
	for range 4 {
		w, err := NewWorker(tb.b, tb.mux, tb.fastConfig(map[string]int{"cron": 1}))
		if err != nil {
			t.Fatal(err)
		}
		w.base = ctx
		workers = append(workers, w)
	}
	var fired atomic.Int32
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { fired.Add(int32(w.fireRepeatables())) })
	}
	wg.Wait()
	if fired.Load() != 1 {
		t.Errorf("four concurrent passes fired %d jobs, want 1", fired.Load())
	}
	q, err := tb.b.Queue(ctx, "cron")
	if err != nil {
		t.Fatal(err)
	}
	if q.Counts[asyncmqtype.StateWaiting] != 1 {
		t.Errorf("queue holds %v, want one waiting job", q.Counts)
	}
}

// TestWorkerClockSkewUsesStoreClock: a worker whose clock is 30 s ahead neither recovers another
// worker's live lease as stalled, nor, 30 s behind, leaves a due job delayed: both are decided on
// the store's clock.
func TestWorkerClockSkewUsesStoreClock(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	for _, skew := range []time.Duration{30 * time.Second, -30 * time.Second} {
		w, err := NewWorker(tb.b, tb.mux, tb.fastConfig(map[string]int{"q": 1}))
		if err != nil {
			t.Fatal(err)
		}
		w.base = ctx
		w.now = func() time.Time { return time.Now().Add(skew).UTC() }

		// A live lease of another worker, 5 s long.
		j := tb.enqueue(t, "t", nil, Queue("q"))
		claimed, err := tb.b.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: "other", Limit: 1, LeaseDuration: 5 * time.Second})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v, %d jobs", err, len(claimed))
		}
		w.recoverStalled()
		if got := tb.job(t, j.ID); got.State != asyncmqtype.StateActive || got.WorkerID != "other" {
			t.Errorf("skew %s: a live lease was recovered: state %s, worker %q", skew, got.State, got.WorkerID)
		}

		// A job due in 100 ms is promoted once it is due on the store's clock.
		d := tb.enqueue(t, "t", nil, Queue("q"), Delay(100*time.Millisecond))
		time.Sleep(150 * time.Millisecond)
		w.schedule()
		if got := tb.job(t, d.ID); got.State != asyncmqtype.StateWaiting {
			t.Errorf("skew %s: a due job is %s after a scheduling pass, want waiting", skew, got.State)
		}
		if _, err := tb.b.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, Filter: asyncmqtype.JobFilter{Queue: "q"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeaderPrunesDeadWorkers: a worker killed without a clean shutdown leaves its record; the
// maintenance leader deletes it once it has been silent for pruneWorkersAfter, and keeps the live.
func TestLeaderPrunesDeadWorkers(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := t.Context()
	cfg := tb.fastConfig(map[string]int{"q": 1})
	silent := time.Now().Add(-cfg.withDefaultsMust(t).pruneWorkersAfter() - time.Minute)
	for _, id := range []string{"killed-1", "killed-2"} {
		if _, err := tb.b.Heartbeat(ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: id}, Now: silent}); err != nil {
			t.Fatal(err)
		}
	}
	cfg.WorkerID = "alive"
	tb.startWorker(t, cfg)
	tb.events.waitUntil(t, "the killed workers' records pruned", func([]WorkerEvent) bool {
		ws, err := tb.b.Workers(ctx)
		if err != nil || len(ws) != 1 {
			return false
		}
		return ws[0].ID == "alive"
	})
}

func (c WorkerConfig) withDefaultsMust(t *testing.T) WorkerConfig {
	t.Helper()
	c, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
