package backendtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// everyState fills queue "default" with one job per state, named after it: waiting, delayed,
// active, completed, failed, cancelled.
func everyState(s *bundle) (active *backend.Job) {
	s.t.Helper()
	s.enqueue(job("active", withPriority(1)), job("completed", withPriority(2)), job("failed", withPriority(3)), job("cancelled", withPriority(4)))
	jobs := s.claim(t0, 4)
	s.finishOK(t0, jobs[1], backend.OutcomeCompleted, func(f *backend.Finish) { f.Result = json.RawMessage(`"done"`) })
	s.finishOK(t0, jobs[2], backend.OutcomeFailed)
	s.finishOK(t0, jobs[3], backend.OutcomeCancelled)
	s.enqueue(job("waiting"), job("delayed", runAt(at(time.Hour))))
	return jobs[0]
}

var stateNames = []string{"waiting", "delayed", "active", "completed", "failed", "cancelled"}

func testBulk(t *testing.T, newBackend factory) {
	t.Run("ByIDs", func(t *testing.T) {
		t.Parallel()
		const (
			gone        = backend.State("gone")
			cancelAsked = backend.State("active, cancel requested")
		)
		tests := []struct {
			action  backend.Action
			changed int
			after   map[string]backend.State // jobs not named keep their state
		}{
			{backend.ActionRetry, 3, map[string]backend.State{
				"completed": backend.StateWaiting, "failed": backend.StateWaiting, "cancelled": backend.StateWaiting,
			}},
			{backend.ActionCancel, 3, map[string]backend.State{
				"waiting": backend.StateCancelled, "delayed": backend.StateCancelled, "active": cancelAsked,
			}},
			{backend.ActionRemove, 6, map[string]backend.State{
				"waiting": gone, "delayed": gone, "active": cancelAsked, "completed": gone, "failed": gone, "cancelled": gone,
			}},
			{backend.ActionPromote, 1, map[string]backend.State{"delayed": backend.StateWaiting}},
		}
		for _, tt := range tests {
			t.Run(string(tt.action), func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				everyState(s)
				now := at(time.Minute)
				n := s.apply(backend.ApplyParams{Action: tt.action, IDs: append([]string{"ghost"}, stateNames...), Now: now})
				requireEqual(t, n, tt.changed, "changed")
				for _, id := range stateNames {
					want, ok := tt.after[id]
					if !ok {
						want = backend.State(id)
					}
					switch want {
					case gone:
						s.requireGone(id)
					case cancelAsked:
						requireEqual(t, s.requireState(id, backend.StateActive).CancelRequested, true, id+" CancelRequested")
					default:
						j := s.requireState(id, want)
						if want == backend.StateWaiting && id != "waiting" {
							requireTime(t, j.RunAt, now, id+" RunAt")
						}
						if want == backend.StateCancelled && id != "cancelled" {
							requireTime(t, j.FinishedAt, now, id+" FinishedAt")
						}
					}
				}
				// Applying the same action again changes nothing more.
				requireEqual(t, s.apply(backend.ApplyParams{Action: tt.action, IDs: []string{"active", "delayed"}, Now: now}), 0, "changed the second time")
			})
		}
	})

	t.Run("RetryResets", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		everyState(s)
		j := s.get("failed")
		requireEqual(t, j.Attempts, 1, "Attempts before")
		s.apply(backend.ApplyParams{Action: backend.ActionRetry, IDs: []string{"failed", "completed"}, Now: at(time.Minute)})
		for _, id := range []string{"failed", "completed"} {
			j := s.requireState(id, backend.StateWaiting)
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
		n := s.apply(backend.ApplyParams{Action: backend.ActionCancel, IDs: []string{"a", "b"}, Filter: backend.JobFilter{Queue: "q2"}})
		requireEqual(t, n, 1, "cancelled")
		s.requireState("a", backend.StateWaiting)
		s.requireState("b", backend.StateCancelled)
	})

	t.Run("ByFilter", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		failed := []*backend.Job{
			job("a1", withTask("report.a")), job("a2", withTask("REPORT.A")), job("a3", withTask("report.a")),
			job("b1", withTask("mail.b"), withPayload(`{"to":"x"}`)), job("b2", withTask("mail.b")),
		}
		s.enqueue(failed...)
		for _, j := range s.claim(t0, 10) {
			s.finishOK(t0, j, backend.OutcomeFailed)
		}
		s.enqueue(job("other-queue", inQueue("q2"), withTask("report.a")), job("w", withTask("report.a")), job("d", withTask("report.a"), runAt(at(time.Hour))))

		n := s.apply(backend.ApplyParams{Action: backend.ActionRetry, Filter: backend.JobFilter{Queue: "default", State: backend.StateFailed, Task: "report"}})
		requireEqual(t, n, 3, "retried")
		s.requireCounts("default", counts{backend.StateWaiting: 4, backend.StateDelayed: 1, backend.StateFailed: 2})

		n = s.apply(backend.ApplyParams{Action: backend.ActionRetry, Filter: backend.JobFilter{Queue: "default", Text: `"X"`}})
		requireEqual(t, n, 1, "retried by payload text in every state")
		s.requireState("b1", backend.StateWaiting)

		n = s.apply(backend.ApplyParams{Action: backend.ActionCancel, Filter: backend.JobFilter{Queue: "default", Task: "report.a"}})
		requireEqual(t, n, 5, "cancelled in every state")
		s.requireState("other-queue", backend.StateWaiting)
		s.requireCounts("default", counts{backend.StateWaiting: 1, backend.StateFailed: 1, backend.StateCancelled: 5})

		n = s.apply(backend.ApplyParams{Action: backend.ActionRemove, Filter: backend.JobFilter{Queue: "default", State: backend.StateCancelled, ID: "a"}})
		requireEqual(t, n, 3, "removed")
		s.requireCounts("default", counts{backend.StateWaiting: 1, backend.StateFailed: 1, backend.StateCancelled: 2})

		n = s.apply(backend.ApplyParams{Action: backend.ActionRemove, Filter: backend.JobFilter{Queue: "nope"}})
		requireEqual(t, n, 0, "removed from an unknown queue")
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		everyState(s)
		for name, p := range map[string]backend.ApplyParams{
			"unknown action":        {Action: "explode", IDs: []string{"waiting"}},
			"unknown state":         {Action: backend.ActionRemove, Filter: backend.JobFilter{Queue: "default", State: "stuck"}},
			"neither IDs nor queue": {Action: backend.ActionRemove},
			"filter without queue":  {Action: backend.ActionRemove, Filter: backend.JobFilter{State: backend.StateWaiting}},
		} {
			p.Now = t0
			_, err := s.b.ApplyJobs(s.ctx, p)
			requireErrorIs(t, err, backend.ErrInvalid, name)
		}
		s.requireCounts("default", counts{
			backend.StateWaiting: 1, backend.StateDelayed: 1, backend.StateActive: 1,
			backend.StateCompleted: 1, backend.StateFailed: 1, backend.StateCancelled: 1,
		})
	})
}
