package asyncmq

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// lanedStore is a store that asks for claim lanes (backend.ClaimLaner) and records its claims.
// Each claim takes a while, as a round trip to a server does.
type lanedStore struct {
	Store
	lanes int

	mu                 sync.Mutex
	inFlight, peak     int
	maxLimit, attempts int
}

func (s *lanedStore) ClaimLanes() int { return s.lanes }

func (s *lanedStore) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	s.mu.Lock()
	s.inFlight++
	s.attempts++
	s.peak = max(s.peak, s.inFlight)
	s.maxLimit = max(s.maxLimit, p.Limit)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	time.Sleep(20 * time.Millisecond)
	return s.Store.Claim(ctx, p)
}

// TestWorkerClaimLanes checks that a store asking for two lanes gets two claims in flight at
// once, each for its share of the slots, and that the queue's concurrency still holds.
func TestWorkerClaimLanes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name                 string
		concurrency, lanes   int
		wantLimit, wantLanes int
	}{
		{name: "five slots in two lanes", concurrency: 5, lanes: 2, wantLimit: 3, wantLanes: 2},
		{name: "one slot stays one lane", concurrency: 1, lanes: 2, wantLimit: 1, wantLanes: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			store := &lanedStore{Store: tb.b, lanes: tt.lanes}
			tb.b = store
			var running, peak atomic.Int32
			tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
				n := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(5 * time.Millisecond)
				return nil
			})
			var ids []string
			for range 30 {
				ids = append(ids, tb.enqueue(t, "t", nil).ID)
			}
			tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: tt.concurrency}))
			for _, id := range ids {
				tb.waitState(t, id, asyncmqtype.StateCompleted)
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			if store.maxLimit != tt.wantLimit {
				t.Errorf("the largest claim asked for %d jobs, want %d (the slots of one lane)", store.maxLimit, tt.wantLimit)
			}
			if store.peak != tt.wantLanes {
				t.Errorf("%d claims were in flight at once, want %d", store.peak, tt.wantLanes)
			}
			if p := int(peak.Load()); p > tt.concurrency {
				t.Errorf("%d jobs ran at once with concurrency %d", p, tt.concurrency)
			}
		})
	}
}
