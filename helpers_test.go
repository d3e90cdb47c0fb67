package asyncmq

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// waitTimeout bounds every wait in the tests; generous because the machine is shared.
const waitTimeout = 15 * time.Second

type testBundle struct {
	b      Store
	client *Client
	mux    *ServeMux
	events *eventLog
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := memory.New()
	t.Cleanup(func() { _ = b.Close() })
	return &testBundle{b: b, client: NewClient(b), mux: NewServeMux(), events: &eventLog{changed: make(chan struct{})}}
}

// fastConfig is a worker configuration whose timers suit tests: nothing waits longer than a few
// tens of milliseconds.
func (tb *testBundle) fastConfig(queues map[string]int) WorkerConfig {
	return WorkerConfig{
		Queues:            queues,
		LeaseDuration:     5 * time.Second,
		HeartbeatInterval: 50 * time.Millisecond,
		ShutdownTimeout:   5 * time.Second,
		PollInterval:      20 * time.Millisecond,
		ScheduleInterval:  10 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
		OnEvent:           tb.events.record,
	}
}

// startWorker runs a worker until the test ends and returns it with a channel that receives Run's
// result.
func (tb *testBundle) startWorker(t *testing.T, cfg WorkerConfig) (*Worker, <-chan error) {
	t.Helper()
	w, err := NewWorker(tb.b, tb.mux, cfg)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return w, done
}

func (tb *testBundle) enqueue(t *testing.T, task string, payload any, opts ...EnqueueOption) *asyncmqtype.JobInfo {
	t.Helper()
	j, err := tb.client.Enqueue(context.Background(), task, payload, opts...)
	if err != nil {
		t.Fatalf("Enqueue(%q): %v", task, err)
	}
	return j
}

func (tb *testBundle) job(t *testing.T, id string) *asyncmqtype.JobInfo {
	t.Helper()
	j, err := tb.b.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%q): %v", id, err)
	}
	return j
}

// waitState waits until the stored job reaches state and returns it.
func (tb *testBundle) waitState(t *testing.T, id string, state asyncmqtype.State) *asyncmqtype.JobInfo {
	t.Helper()
	var j *asyncmqtype.JobInfo
	tb.events.waitUntil(t, "job "+id+" in state "+string(state), func([]WorkerEvent) bool {
		j = tb.job(t, id)
		return j.State == state
	})
	return j
}

// eventLog records worker events and lets a test wait for a condition over them.
type eventLog struct {
	mu      sync.Mutex
	events  []WorkerEvent
	changed chan struct{} // closed and replaced at every event
}

func (l *eventLog) record(e WorkerEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *eventLog) snapshot() ([]WorkerEvent, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]WorkerEvent(nil), l.events...), l.changed
}

// waitUntil re-checks cond after every worker event until it holds. Conditions may look at the
// store too: the worker emits an event after every store call that changes it.
func (l *eventLog) waitUntil(t *testing.T, what string, cond func([]WorkerEvent) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		evs, changed := l.snapshot()
		if cond(evs) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
	}
}

// count returns how many recorded events match.
func count(evs []WorkerEvent, match func(WorkerEvent) bool) int {
	n := 0
	for _, e := range evs {
		if match(e) {
			n++
		}
	}
	return n
}

func finished(id string) func(WorkerEvent) bool {
	return func(e WorkerEvent) bool { return e.Kind == WorkerJobFinished && e.JobID == id }
}

func isKind(k WorkerEventKind) func(WorkerEvent) bool {
	return func(e WorkerEvent) bool { return e.Kind == k }
}
