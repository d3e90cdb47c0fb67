package asyncmq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// finishClaimer gives a store backend.FinishClaimer as a Finish then a Claim. Its call number
// failAt fails: after recording the outcomes when recordThenFail is set (the reply was lost),
// before it otherwise.
type finishClaimer struct {
	Store
	failAt         int64
	recordThenFail bool
	calls, carried atomic.Int64
}

func (f *finishClaimer) FinishClaim(ctx context.Context, items []backend.Finish, p backend.ClaimParams) ([]error, []*asyncmqtype.JobInfo, error) {
	n := f.calls.Add(1)
	if n == f.failAt && !f.recordThenFail {
		return nil, nil, errOutage
	}
	errs, err := f.Store.Finish(ctx, backend.FinishParams{Items: items, Now: p.Now})
	if err != nil {
		return nil, nil, err
	}
	f.carried.Add(int64(len(items)))
	if n == f.failAt {
		return nil, nil, errOutage
	}
	jobs, err := f.Store.Claim(ctx, p)
	return errs, jobs, err
}

// TestClaimsCarryOutcomes: with a store that records outcomes in its claim call, the fetchers
// carry the outcomes of their queue, and one call that fails gives its outcomes back to the
// completer. Every job runs once and is completed, and each ends with one WorkerJobFinished
// event: without an error, or, for an outcome recorded by the failed call and then sent again,
// with ErrLeaseLost.
func TestClaimsCarryOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		recordThenFail bool
	}{{"call fails before recording", false}, {"reply lost after recording", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			fc := &finishClaimer{Store: tb.b, failAt: 3, recordThenFail: tc.recordThenFail}
			tb.b = fc
			const jobs = 60
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
			cfg := tb.fastConfig(map[string]int{"q": 4})
			tb.startWorker(t, cfg)
			finished := func(evs []WorkerEvent) map[string]int {
				m := map[string]int{}
				for _, e := range evs {
					if e.Kind == WorkerJobFinished {
						m[e.JobID]++
					}
				}
				return m
			}
			tb.events.waitUntil(t, "every job finished", func(evs []WorkerEvent) bool {
				return len(finished(evs)) == jobs
			})
			if fc.calls.Load() < fc.failAt || fc.carried.Load() == 0 {
				t.Fatalf("FinishClaim: %d calls carrying %d outcomes; want at least %d calls and some outcomes", fc.calls.Load(), fc.carried.Load(), fc.failAt)
			}
			evs, _ := tb.events.snapshot()
			fin := finished(evs)
			lost := 0
			for _, e := range evs {
				if e.Kind == WorkerJobFinished && e.Err != nil {
					lost++
					if !tc.recordThenFail || !errors.Is(e.Err, ErrLeaseLost) {
						t.Errorf("job %s finished with error %v", e.JobID, e.Err)
					}
				}
			}
			if tc.recordThenFail && lost == 0 {
				t.Error("no outcome was sent again after the lost reply")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				j := tb.job(t, id)
				if runs[id] != 1 || fin[id] != 1 || j.State != asyncmqtype.StateCompleted || j.Attempts != 1 {
					t.Errorf("job %s: ran %d times, %d finished events, state %s, attempts %d; want 1, 1, completed, 1",
						id, runs[id], fin[id], j.State, j.Attempts)
				}
			}
		})
	}
}
