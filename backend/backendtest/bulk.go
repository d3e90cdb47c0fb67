package backendtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// everyState fills queue "default" with one job per state, named after it: waiting, delayed,
// active, completed, failed, cancelled.
func everyState(s *bundle) (active *asyncmqtype.JobInfo) {
	s.t.Helper()
	s.enqueue(job("active", withPriority(1)), job("completed", withPriority(2)), job("failed", withPriority(3)), job("cancelled", withPriority(4)))
	jobs := s.claim(t0, 4)
	s.finishOK(t0, jobs[1], asyncmqtype.OutcomeCompleted, func(f *backend.Finish) { f.Result = json.RawMessage(`"done"`) })
	s.finishOK(t0, jobs[2], asyncmqtype.OutcomeFailed)
	s.finishOK(t0, jobs[3], asyncmqtype.OutcomeCancelled)
	s.enqueue(job("waiting"), job("delayed", runAt(at(time.Hour))))
	return jobs[0]
}

var stateNames = []string{"waiting", "delayed", "active", "completed", "failed", "cancelled"}

func testBulk(t *testing.T, newBackend factory) {
	t.Run("ByIDs", func(t *testing.T) {
		t.Parallel()
		const (
			gone        = asyncmqtype.State("gone")
			cancelAsked = asyncmqtype.State("active, cancel requested")
		)
		tests := []struct {
			action  asyncmqtype.Action
			changed int
			after   map[string]asyncmqtype.State // jobs not named keep their state
		}{
			{asyncmqtype.ActionRetry, 3, map[string]asyncmqtype.State{
				"completed": asyncmqtype.StateWaiting, "failed": asyncmqtype.StateWaiting, "cancelled": asyncmqtype.StateWaiting,
			}},
			{asyncmqtype.ActionCancel, 3, map[string]asyncmqtype.State{
				"waiting": asyncmqtype.StateCancelled, "delayed": asyncmqtype.StateCancelled, "active": cancelAsked,
			}},
			{asyncmqtype.ActionRemove, 6, map[string]asyncmqtype.State{
				"waiting": gone, "delayed": gone, "active": cancelAsked, "completed": gone, "failed": gone, "cancelled": gone,
			}},
			{asyncmqtype.ActionPromote, 1, map[string]asyncmqtype.State{"delayed": asyncmqtype.StateWaiting}},
		}
		for _, tt := range tests {
			t.Run(string(tt.action), func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				everyState(s)
				now := at(time.Minute)
				n := s.apply(asyncmqtype.ApplyParams{Action: tt.action, IDs: append([]string{"ghost"}, stateNames...), Now: now})
				requireEqual(t, n, tt.changed, "changed")
				for _, id := range stateNames {
					want, ok := tt.after[id]
					if !ok {
						want = asyncmqtype.State(id)
					}
					switch want {
					case gone:
						s.requireGone(id)
					case cancelAsked:
						requireEqual(t, s.requireState(id, asyncmqtype.StateActive).CancelRequested, true, id+" CancelRequested")
					default:
						j := s.requireState(id, want)
						if want == asyncmqtype.StateWaiting && id != "waiting" {
							requireTime(t, j.RunAt, now, id+" RunAt")
						}
						if want == asyncmqtype.StateCancelled && id != "cancelled" {
							requireTime(t, j.FinishedAt, now, id+" FinishedAt")
						}
					}
				}
				// Applying the same action again changes nothing more.
				requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: tt.action, IDs: []string{"active", "delayed"}, Now: now}), 0, "changed the second time")
			})
		}
	})

	t.Run("RetryResets", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		everyState(s)
		j := s.get("failed")
		requireEqual(t, j.Attempts, 1, "Attempts before")
		s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"failed", "completed"}, Now: at(time.Minute)})
		for _, id := range []string{"failed", "completed"} {
			j := s.requireState(id, asyncmqtype.StateWaiting)
			requireEqual(t, j.Attempts, 0, id+" Attempts")
			requireTime(t, j.FinishedAt, time.Time{}, id+" FinishedAt")
			requireTime(t, j.RunAt, at(time.Minute), id+" RunAt")
			requireEqual(t, len(j.Result), 0, id+" Result")
		}
		requireEqual(t, len(s.get("failed").Errors), 1, "failed job's Errors (kept as history)")
		requireEqual(t, s.claimOne(at(time.Minute), "completed").Attempts, 1, "Attempts when claimed again")
	})

	t.Run("FilterQueueMustMatchIDs", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b", inQueue("q2")))
		n := s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"a", "b"}, Filter: asyncmqtype.JobFilter{Queue: "q2"}})
		requireEqual(t, n, 1, "cancelled")
		s.requireState("a", asyncmqtype.StateWaiting)
		s.requireState("b", asyncmqtype.StateCancelled)
	})

	t.Run("ByFilter", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		failed := []*asyncmqtype.JobInfo{
			job("a1", withTask("report.a")), job("a2", withTask("REPORT.A")), job("a3", withTask("report.a")),
			job("b1", withTask("mail.b"), withPayload(`{"to":"x"}`)), job("b2", withTask("mail.b")),
		}
		s.enqueue(failed...)
		for _, j := range s.claim(t0, 10) {
			s.finishOK(t0, j, asyncmqtype.OutcomeFailed)
		}
		s.enqueue(job("other-queue", inQueue("q2"), withTask("report.a")), job("w", withTask("report.a")), job("d", withTask("report.a"), runAt(at(time.Hour))))

		n := s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateFailed, Task: "report"}})
		requireEqual(t, n, 3, "retried")
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 4, asyncmqtype.StateDelayed: 1, asyncmqtype.StateFailed: 2})

		n = s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, Filter: asyncmqtype.JobFilter{Queue: "default", Text: `"X"`}})
		requireEqual(t, n, 1, "retried by payload text in every state")
		s.requireState("b1", asyncmqtype.StateWaiting)

		n = s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, Filter: asyncmqtype.JobFilter{Queue: "default", Task: "report.a"}})
		requireEqual(t, n, 5, "cancelled in every state")
		s.requireState("other-queue", asyncmqtype.StateWaiting)
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateFailed: 1, asyncmqtype.StateCancelled: 5})

		n = s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateCancelled, ID: "a"}})
		requireEqual(t, n, 3, "removed")
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateFailed: 1, asyncmqtype.StateCancelled: 2})

		n = s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, Filter: asyncmqtype.JobFilter{Queue: "nope"}})
		requireEqual(t, n, 0, "removed from an unknown queue")
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		everyState(s)
		for name, p := range map[string]asyncmqtype.ApplyParams{
			"unknown action":        {Action: "explode", IDs: []string{"waiting"}},
			"unknown state":         {Action: asyncmqtype.ActionRemove, Filter: asyncmqtype.JobFilter{Queue: "default", State: "stuck"}},
			"neither IDs nor queue": {Action: asyncmqtype.ActionRemove},
			"filter without queue":  {Action: asyncmqtype.ActionRemove, Filter: asyncmqtype.JobFilter{State: asyncmqtype.StateWaiting}},
		} {
			p.Now = t0
			_, err := s.b.ApplyJobs(s.ctx, p)
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, name)
		}
		s.requireCounts("default", counts{
			asyncmqtype.StateWaiting: 1, asyncmqtype.StateDelayed: 1, asyncmqtype.StateActive: 1,
			asyncmqtype.StateCompleted: 1, asyncmqtype.StateFailed: 1, asyncmqtype.StateCancelled: 1,
		})
	})
}
