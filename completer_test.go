package asyncmq

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// outage is a store that stops answering writes for a while, starting at the first Finish: the
// outcomes of the jobs that ran are then waiting to be saved.
type outage struct {
	Store
	length  time.Duration
	started atomic.Bool
	down    atomic.Bool
}

var errOutage = errors.New("store unreachable (injected outage)")

func (o *outage) fail() error {
	if o.down.Load() {
		return errOutage
	}
	return nil
}

func (o *outage) Finish(ctx context.Context, p backend.FinishParams) ([]error, error) {
	if !o.started.Swap(true) {
		o.down.Store(true)
		time.AfterFunc(o.length, func() { o.down.Store(false) })
	}
	if err := o.fail(); err != nil {
		return nil, err
	}
	return o.Store.Finish(ctx, p)
}

func (o *outage) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	if err := o.fail(); err != nil {
		return backend.HeartbeatResult{}, err
	}
	return o.Store.Heartbeat(ctx, p)
}

func (o *outage) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	if err := o.fail(); err != nil {
		return nil, err
	}
	return o.Store.Claim(ctx, p)
}

// TestStoreOutageCausesNoReruns: the store fails every write for 2s just as jobs finish. The
// completer keeps their outcomes and retries while their leases hold, so every job completes
// once, with one attempt and no stall.
func TestStoreOutageCausesNoReruns(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	o := &outage{Store: tb.b, length: 2 * time.Second}
	tb.b = o
	const jobs = 20
	var mu sync.Mutex
	runs := map[string]int{}
	tb.mux.HandleFunc("t", func(ctx context.Context, j *Job) error {
		mu.Lock()
		runs[j.ID]++
		mu.Unlock()
		return nil
	})
	var ids []string
	for range jobs {
		ids = append(ids, tb.enqueue(t, "t", nil, Queue("q")).ID)
	}
	cfg := tb.fastConfig(map[string]int{"q": jobs})
	tb.startWorker(t, cfg)
	tb.events.waitUntil(t, "every job completed", func([]WorkerEvent) bool {
		q, err := o.Store.Queue(t.Context(), "q")
		return err == nil && q.Counts[asyncmqtype.StateCompleted] == jobs
	})
	if !o.started.Load() {
		t.Fatal("the outage never started")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		j := tb.job(t, id)
		if runs[id] != 1 || j.Attempts != 1 || j.Stalls != 0 {
			t.Errorf("job %s: ran %d times, attempts %d, stalls %d; want 1, 1, 0", id, runs[id], j.Attempts, j.Stalls)
		}
	}
}

// downAtStart is a store whose writes fail until up is set: a worker started during an outage.
type downAtStart struct {
	Store
	up         atomic.Bool
	heartbeats atomic.Int32
}

func (d *downAtStart) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	d.heartbeats.Add(1)
	if !d.up.Load() {
		return backend.HeartbeatResult{}, errOutage
	}
	return d.Store.Heartbeat(ctx, p)
}

// TestWorkerStartedDuringOutageRegistersLater: the first heartbeat fails (a full disk, a server
// restarting); Run keeps retrying instead of exiting, and once the store answers the worker
// registers and runs the waiting job.
func TestWorkerStartedDuringOutageRegistersLater(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	d := &downAtStart{Store: tb.b}
	tb.b = d
	ran := make(chan string, 1)
	tb.mux.HandleFunc("t", func(ctx context.Context, j *Job) error { ran <- j.ID; return nil })
	id := tb.enqueue(t, "t", nil, Queue("q")).ID
	_, done := tb.startWorker(t, tb.fastConfig(map[string]int{"q": 1}))

	deadline := time.Now().Add(waitTimeout)
	for d.heartbeats.Load() < 3 {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v during the outage; want it to keep retrying", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d registration attempts in %s", d.heartbeats.Load(), waitTimeout)
		}
	}
	d.up.Store(true)
	select {
	case got := <-ran:
		if got != id {
			t.Errorf("ran job %s, want %s", got, id)
		}
	case err := <-done:
		t.Fatalf("Run returned %v after the store came back", err)
	case <-time.After(waitTimeout):
		t.Fatal("the job did not run after the store came back")
	}
	if j := tb.waitState(t, id, asyncmqtype.StateCompleted); j.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", j.Attempts)
	}
}

// TestWorkerShutdownWhileRegistering: Shutdown during the outage ends Run with the store's error.
func TestWorkerShutdownWhileRegistering(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	d := &downAtStart{Store: tb.b}
	cfg := tb.fastConfig(map[string]int{"q": 1})
	w, err := NewWorker(d, tb.mux, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	for d.heartbeats.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = w.Shutdown(ctx)
	select {
	case err := <-done:
		if !errors.Is(err, errOutage) || !strings.Contains(err.Error(), "gave up: worker shut down") {
			t.Errorf("Run = %v, want the outage error and that it gave up on shutdown", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after Shutdown")
	}
}
