package backendtest

import (
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

// errString makes a stored error message usable with requireMentions.
type errString string

func (e errString) Error() string { return string(e) }

func pageIDs(p asyncmqtype.JobPage) []string { return ids(p.Jobs) }
