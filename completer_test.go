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
