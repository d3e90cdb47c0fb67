package backendtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// testParentDependencies checks the waiting-children state and the OnParentFailure policies: a child is
// visible as blocked while a parent is pending, runs when the last one completes, and is failed,
// cancelled or kept waiting when a parent fails or is cancelled.
func testParentDependencies(t *testing.T, newBackend factory) {
	t.Run("WaitingChildrenUntilParentCompletes", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", dependsOn("p")))
		s.requireState("c", asyncmqtype.StateWaitingChildren)
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateWaitingChildren: 1})
		page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaitingChildren}})
		requireIDs(t, pageIDs(page), []string{"c"}, "waiting-children listing")

		p := s.claimOne(t0, "p")
		s.finishOK(at(time.Second), p, asyncmqtype.OutcomeRetry)
		s.requireState("c", asyncmqtype.StateWaitingChildren)
		s.complete(at(time.Second), "p")
		s.requireState("c", asyncmqtype.StateWaiting)
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateCompleted: 1})
		s.claimOne(at(time.Second), "c")
	})

	t.Run("DelayedChildStaysDelayed", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", runAt(at(time.Minute)), dependsOn("p")))
		s.requireState("c", asyncmqtype.StateWaitingChildren)
		s.complete(at(time.Second), "p")
		s.requireState("c", asyncmqtype.StateDelayed)
		requireEqual(t, s.promote(at(time.Minute)), 1, "promoted")
		s.claimOne(at(time.Minute), "c")
	})

	t.Run("ParentFailurePolicies", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			policy asyncmqtype.ParentFailure
			want   asyncmqtype.State
		}{
			{"", asyncmqtype.StateFailed},
			{asyncmqtype.ParentFailureFail, asyncmqtype.StateFailed},
			{asyncmqtype.ParentFailureCancel, asyncmqtype.StateCancelled},
			{asyncmqtype.ParentFailureWait, asyncmqtype.StateWaitingChildren},
		}
		for _, tt := range tests {
			t.Run("policy="+string(tt.policy), func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("p", withPriority(1)), job("other"))
				s.enqueue(job("c", dependsOn("p", "other"), onParentFailure(tt.policy)))
				s.finishOK(at(time.Second), s.claimOne(t0, "p"), asyncmqtype.OutcomeFailed)
				c := s.requireState("c", tt.want)
				if tt.want.Terminal() {
					requireTime(t, c.FinishedAt, at(time.Second), "FinishedAt")
				}
				if tt.want == asyncmqtype.StateFailed {
					if e := c.LastError(); e == nil {
						t.Fatal("failed child has no error")
					} else {
						requireMentions(t, errString(e.Error), `"p"`)
					}
				}
				want := counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateFailed: 1}
				want[tt.want]++
				s.requireCounts("default", want)
				requireIDs(t, ids(s.claim(at(time.Second), 10)), []string{"other"}, "claimed")
			})
		}
	})

	t.Run("ParentInSameCallFails", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"), job("c", dependsOn("p")))
		s.finishOK(t0, s.claimOne(t0, "p"), asyncmqtype.OutcomeFailed)
		s.requireState("c", asyncmqtype.StateFailed)
	})

	t.Run("WaitChildRunsAfterParentRetried", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", dependsOn("p"), onParentFailure(asyncmqtype.ParentFailureWait)))
		s.finishOK(t0, s.claimOne(t0, "p"), asyncmqtype.OutcomeFailed)
		s.requireState("c", asyncmqtype.StateWaitingChildren)
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"p"}, Now: at(time.Second)}), 1, "retried")
		s.complete(at(2*time.Second), "p")
		s.requireState("c", asyncmqtype.StateWaiting)
		s.claimOne(at(2*time.Second), "c")
	})

	t.Run("RetriedChildWaitsForParent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", dependsOn("p")))
		s.finishOK(t0, s.claimOne(t0, "p"), asyncmqtype.OutcomeFailed)
		s.requireState("c", asyncmqtype.StateFailed)

		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"c"}, Now: at(time.Second)}), 1, "retried child")
		s.requireState("c", asyncmqtype.StateWaitingChildren)
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"p"}, Now: at(time.Second)}), 1, "retried parent")
		s.complete(at(2*time.Second), "p")
		s.claimOne(at(2*time.Second), "c")
	})

	t.Run("Cascade", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", dependsOn("p"), onParentFailure(asyncmqtype.ParentFailureCancel)),
			job("w", dependsOn("p"), onParentFailure(asyncmqtype.ParentFailureWait)))
		s.enqueue(job("g", dependsOn("c")), job("gw", dependsOn("w")))
		s.enqueue(job("gg", dependsOn("g"), onParentFailure(asyncmqtype.ParentFailureCancel)))
		s.finishOK(t0, s.claimOne(t0, "p"), asyncmqtype.OutcomeFailed)

		s.requireState("c", asyncmqtype.StateCancelled)
		g := s.requireState("g", asyncmqtype.StateFailed)
		if e := g.LastError(); e == nil {
			t.Fatal("failed grandchild has no error")
		} else {
			requireMentions(t, errString(e.Error), `"c"`)
		}
		s.requireState("gg", asyncmqtype.StateCancelled)
		s.requireState("w", asyncmqtype.StateWaitingChildren)
		s.requireState("gw", asyncmqtype.StateWaitingChildren)
		s.requireCounts("default", counts{asyncmqtype.StateFailed: 2, asyncmqtype.StateCancelled: 2, asyncmqtype.StateWaitingChildren: 2})
	})

	t.Run("ParentEndings", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			end  func(s *bundle)
			want asyncmqtype.State
		}{
			{"cancelled while waiting", func(s *bundle) {
				requireEqual(s.t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"p"}, Now: t0}), 1, "cancelled")
			}, asyncmqtype.StateCancelled},
			{"cancelled by its handler", func(s *bundle) {
				s.finishOK(t0, s.claimOne(t0, "p"), asyncmqtype.OutcomeCancelled)
			}, asyncmqtype.StateCancelled},
			{"cancelled while active, then released", func(s *bundle) {
				p := s.claimOne(t0, "p")
				requireEqual(s.t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"p"}, Now: t0}), 1, "cancel requested")
				s.requireState("c", asyncmqtype.StateWaitingChildren)
				err := s.b.Release(s.ctx, backend.ReleaseParams{Now: t0, Leases: []backend.Lease{{JobID: "p", LeaseToken: p.LeaseToken}}})
				requireNoError(s.t, err, "release")
			}, asyncmqtype.StateCancelled},
			{"stalled too often", func(s *bundle) {
				s.claimOne(t0, "p")
				requireRecovered(s.t, s.recover(at(time.Hour), 0), nil, []string{"p"}, "recovered")
			}, asyncmqtype.StateFailed},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("p"))
				s.enqueue(job("c", dependsOn("p")))
				tt.end(s)
				s.requireState("p", tt.want)
				c := s.requireState("c", map[bool]asyncmqtype.State{true: asyncmqtype.StateFailed, false: asyncmqtype.StateWaitingChildren}[tt.want.Terminal()])
				if c.State == asyncmqtype.StateFailed {
					requireMentions(t, errString(c.LastError().Error), `"p"`)
				}
			})
		}
	})

	t.Run("CancelAndDrainWaitingChildren", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c1", dependsOn("p")), job("c2", dependsOn("p")))
		s.enqueue(job("g", dependsOn("c1")))
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"c1"}, Now: t0}), 1, "cancelled")
		s.requireState("c1", asyncmqtype.StateCancelled)
		g := s.requireState("g", asyncmqtype.StateFailed)
		requireMentions(t, errString(g.LastError().Error), `"c1"`)
		n, err := s.b.Drain(s.ctx, "default", false)
		requireNoError(t, err, "drain")
		requireEqual(t, n, 2, "drained (p and c2)")
		s.requireGone("c2")
		s.requireCounts("default", counts{asyncmqtype.StateCancelled: 1, asyncmqtype.StateFailed: 1})
	})
}

// testEnqueueReportsState checks that Enqueue sets State and PendingDeps of the jobs it was given
// to what it stored, on every path a store may take (one job, a batch with parents in and out of
// the call, a batch over two queues, concurrent calls, a large plain batch), that GetJob agrees,
// and that a refused call leaves its jobs alone.
func testEnqueueReportsState(t *testing.T, newBackend factory) {
	type want struct {
		state   asyncmqtype.State
		pending int
	}
	check := func(s *bundle, j *asyncmqtype.JobInfo, w want) {
		s.t.Helper()
		if j.State != w.state || j.PendingDeps != w.pending {
			s.t.Fatalf("Enqueue reported job %s as %s with %d pending parents, want %s with %d", j.ID, j.State, j.PendingDeps, w.state, w.pending)
		}
		got := s.get(j.ID)
		if got.State != j.State || got.PendingDeps != j.PendingDeps {
			s.t.Fatalf("GetJob has job %s as %s with %d pending parents, Enqueue reported %s with %d", j.ID, got.State, got.PendingDeps, j.State, j.PendingDeps)
		}
	}
	wait := want{asyncmqtype.StateWaiting, 0}
	delayed := want{asyncmqtype.StateDelayed, 0}
	blocked := func(n int) want { return want{asyncmqtype.StateWaitingChildren, n} }
	now, later := at(2*time.Second), runAt(at(time.Hour))

	t.Run("ParentsInAndOutOfTheCall", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("done"), job("open"))
		s.complete(at(time.Second), "done")

		single := job("single", dependsOn("done"))
		s.enqueueAt(now, single)
		check(s, single, wait)
		singleBlocked := job("single-blocked", dependsOn("open", "done"))
		s.enqueueAt(now, singleBlocked)
		check(s, singleBlocked, blocked(1))

		batch := []*asyncmqtype.JobInfo{
			job("ready", dependsOn("done")),
			job("ready-later", later, dependsOn("done")),
			job("one-open", dependsOn("done", "open")),
			job("on-batch", dependsOn("open", "ready")),
			job("on-later-in-batch", later, dependsOn("plain")),
			job("plain"),
			job("plain-later", later),
			job("other-later", inQueue("other"), later),
			job("other-child", inQueue("other"), dependsOn("other-later")),
		}
		s.enqueueAt(now, batch...)
		wants := []want{wait, delayed, blocked(1), blocked(2), blocked(1), wait, delayed, delayed, blocked(1)}
		for i, j := range batch {
			check(s, j, wants[i])
		}
	})

	t.Run("RefusedCallLeavesJobsAlone", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		jobs := []*asyncmqtype.JobInfo{job("c", dependsOn("p")), job("orphan", dependsOn("ghost-parent"))}
		err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: now, Jobs: jobs})
		requireErrorIs(t, err, asyncmqtype.ErrJobNotFound, "enqueue")
		for _, j := range jobs {
			if j.State != "" || j.PendingDeps != 0 {
				t.Fatalf("refused Enqueue set job %s to %s with %d pending parents", j.ID, j.State, j.PendingDeps)
			}
		}
	})

	t.Run("ConcurrentAndLargeCalls", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		// Calls at the same time may be written together (group commit, combined scripts).
		calls := make([][]*asyncmqtype.JobInfo, 8)
		var wg sync.WaitGroup
		errs := make([]error, len(calls))
		for i := range calls {
			id := fmt.Sprintf("c%d", i)
			switch i % 3 {
			case 0:
				calls[i] = []*asyncmqtype.JobInfo{job(id)}
			case 1:
				calls[i] = []*asyncmqtype.JobInfo{job(id, later)}
			default:
				calls[i] = []*asyncmqtype.JobInfo{job(id, dependsOn("p"))}
			}
			wg.Go(func() { errs[i] = s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: now, Jobs: calls[i]}) })
		}
		wg.Wait()
		for i, c := range calls {
			requireNoError(t, errs[i], "enqueue "+c[0].ID)
			check(s, c[0], []want{wait, delayed, blocked(1)}[i%3])
		}
		// A large call of plain jobs may take a bulk path (COPY on PostgreSQL).
		big := make([]*asyncmqtype.JobInfo, 600)
		for i := range big {
			if i%2 == 0 {
				big[i] = job(fmt.Sprintf("big%03d", i))
			} else {
				big[i] = job(fmt.Sprintf("big%03d", i), later)
			}
		}
		s.enqueueAt(now, big...)
		for i, j := range big {
			if i%50 < 2 { // a sample: every GetJob is a round trip
				check(s, j, []want{wait, delayed}[i%2])
			} else if w := []want{wait, delayed}[i%2]; j.State != w.state || j.PendingDeps != 0 {
				t.Fatalf("Enqueue reported job %s as %s with %d pending parents, want %s", j.ID, j.State, j.PendingDeps, w.state)
			}
		}
	})
}

// errString makes a stored error message usable with requireMentions.
type errString string

func (e errString) Error() string { return string(e) }

func pageIDs(p asyncmqtype.JobPage) []string { return ids(p.Jobs) }
