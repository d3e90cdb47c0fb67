package backendtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testClaim(t *testing.T, newBackend factory) {
	t.Run("PriorityThenRunAtThenID", func(t *testing.T) {
		t.Parallel()
		enqueue := func(s *bundle) {
			s.enqueue(
				job("a", withPriority(5), runAt(at(-3*time.Second))),
				job("b", withPriority(1), runAt(at(-1*time.Second))),
				job("d", withPriority(1), runAt(at(-2*time.Second))),
				job("c", withPriority(1), runAt(at(-2*time.Second))),
				job("e", withPriority(9), runAt(at(-10*time.Second))),
				job("f", withPriority(5), runAt(at(-3*time.Second))),
			)
		}
		want := []string{"c", "d", "b", "a", "f", "e"}

		t.Run("one at a time", func(t *testing.T) {
			t.Parallel()
			s := setup(t, newBackend)
			enqueue(s)
			for _, id := range want {
				s.claimOne(t0, id)
			}
			requireEqual(t, len(s.claim(t0, 1)), 0, "claimed after all")
		})
		t.Run("in one call, returned in order", func(t *testing.T) {
			t.Parallel()
			s := setup(t, newBackend)
			enqueue(s)
			requireIDs(t, ids(s.claim(t0, 10)), want, "claimed")
		})
	})

	t.Run("OneQueueOnly", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(
			job("q1-low", inQueue("q1"), withPriority(5)),
			job("q1-high", inQueue("q1"), withPriority(1)),
			job("q2-top", inQueue("q2"), withPriority(0)),
		)
		// Order is defined within one queue: a claim never takes another queue's job, however
		// urgent.
		requireIDs(t, ids(s.claim(t0, 10, "q1")), []string{"q1-high", "q1-low"}, "claimed from q1")
		s.requireState("q2-top", asyncmqtype.StateWaiting)
		requireIDs(t, ids(s.claim(t0, 10, "nope")), nil, "claimed from an unknown queue")
		requireIDs(t, ids(s.claim(t0, 10, "q2")), []string{"q2-top"}, "claimed from q2")
	})

	t.Run("Limit", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for i := range 5 {
			s.enqueue(job(fmt.Sprintf("j%d", i)))
		}
		requireEqual(t, len(s.claim(t0, 2)), 2, "first claim")
		requireEqual(t, len(s.claim(t0, 10)), 3, "second claim")
		requireEqual(t, len(s.claim(t0, 10)), 0, "third claim")
		s.requireCounts("default", counts{asyncmqtype.StateActive: 5})
	})

	t.Run("SetsLeaseFields", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"))
		now := at(5 * time.Second)
		jobs, err := s.b.Claim(s.ctx, backend.ClaimParams{
			Queue: "default", WorkerID: "worker-9", Limit: 2, LeaseDuration: 45 * time.Second, Now: now,
		})
		requireNoError(t, err, "claim")
		if len(jobs) != 2 {
			t.Fatalf("claimed %v, want a and b", ids(jobs))
		}
		for _, got := range jobs {
			stored := s.get(got.ID)
			for _, j := range []*asyncmqtype.JobInfo{got, stored} {
				requireEqual(t, j.State, asyncmqtype.StateActive, "State")
				requireEqual(t, j.Attempts, 1, "Attempts")
				requireEqual(t, j.WorkerID, "worker-9", "WorkerID")
				requireTime(t, j.StartedAt, now, "StartedAt")
				requireTime(t, j.LeaseExpiresAt, now.Add(45*time.Second), "LeaseExpiresAt")
				if j.LeaseToken == "" {
					t.Fatalf("job %s has no lease token", j.ID)
				}
			}
			requireEqual(t, stored.LeaseToken, got.LeaseToken, "stored LeaseToken")
			requireJSON(t, got.Payload, `{"n":1}`, "claimed Payload")
			requireEqual(t, got.Task, "email.send", "claimed Task")
		}
		if jobs[0].LeaseToken == jobs[1].LeaseToken {
			t.Fatalf("two claims share lease token %q", jobs[0].LeaseToken)
		}
		requireNoError(t, s.b.Release(s.ctx, backend.ReleaseParams{Now: now, Leases: []backend.Lease{
			{JobID: "a", LeaseToken: jobs[0].LeaseToken},
		}}), "release")
		again := s.claimOne(now, "a")
		if again.LeaseToken == jobs[0].LeaseToken {
			t.Fatalf("a second claim of a reuses lease token %q", again.LeaseToken)
		}
	})

	t.Run("DelayedNeedsPromotion", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("later", runAt(at(time.Minute))))
		requireEqual(t, len(s.claim(at(2*time.Minute), 10)), 0, "claimed while still delayed")
		requireEqual(t, s.promote(at(2*time.Minute)), 1, "promoted")
		s.claimOne(at(2*time.Minute), "later")
	})

	t.Run("WaitingWithFutureRunAt", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		// Enqueued by a process whose clock is an hour ahead: waiting, but not yet runnable here.
		s.enqueueAt(at(time.Hour), job("ahead", withPriority(0)))
		s.enqueue(job("now", withPriority(9)))
		s.claimOne(t0, "now")
		requireEqual(t, len(s.claim(t0, 10)), 0, "claimed before RunAt")
		s.claimOne(at(time.Hour), "ahead")
	})

	t.Run("UnknownQueue", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireEqual(t, len(s.claim(t0, 10, "nope")), 0, "claimed")
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			p    backend.ClaimParams
		}{
			{"no queues", backend.ClaimParams{Limit: 1, LeaseDuration: lease}},
			{"zero limit", backend.ClaimParams{Queue: "default", LeaseDuration: lease}},
			{"negative limit", backend.ClaimParams{Queue: "default", Limit: -1, LeaseDuration: lease}},
			{"zero lease", backend.ClaimParams{Queue: "default", Limit: 1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("a"))
				tt.p.Now = t0
				_, err := s.b.Claim(s.ctx, tt.p)
				requireErrorIs(t, err, asyncmqtype.ErrInvalid, "claim")
				s.requireState("a", asyncmqtype.StateWaiting)
			})
		}
	})

	t.Run("ConcurrentClaimsNeverShareAJob", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		const jobs, workers = 240, 8
		batch := make([]*asyncmqtype.JobInfo, jobs)
		for i := range batch {
			batch[i] = job(fmt.Sprintf("j%03d", i), withPriority(i%3))
		}
		s.enqueue(batch...)
		claimConcurrently(t, []backend.Store{s.b}, workers, jobs)
		s.requireCounts("default", counts{asyncmqtype.StateActive: jobs})
	})
}

// claimConcurrently has workers goroutines claim from the backends (round robin) until nothing
// is left, and checks that every one of want jobs was handed out exactly once.
func claimConcurrently(t *testing.T, bs []backend.Store, workers, want int) {
	t.Helper()
	var (
		mu    sync.Mutex
		owner = make(map[string]string)
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			b := bs[w%len(bs)]
			worker := fmt.Sprintf("w%d", w)
			for {
				jobs, err := b.Claim(t.Context(), backend.ClaimParams{
					Queue: "default", WorkerID: worker, Limit: 3, LeaseDuration: lease, Now: t0,
				})
				if err != nil {
					t.Errorf("%s: claim: %v", worker, err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					if prev, ok := owner[j.ID]; ok {
						t.Errorf("job %s handed to %s and to %s", j.ID, prev, worker)
					}
					owner[j.ID] = worker
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owner) != want {
		t.Fatalf("%d distinct jobs claimed, want %d", len(owner), want)
	}
}
