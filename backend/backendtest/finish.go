package backendtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testFinish(t *testing.T, newBackend factory) {
	t.Run("Completed", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		claimed := s.claimOne(at(time.Second), "a")
		s.finishOK(at(3*time.Second), claimed, asyncmqtype.OutcomeCompleted, func(f *backend.Finish) {
			f.Result = json.RawMessage(`{"sent":2}`)
			f.Duration = 2 * time.Second
		})
		j := s.requireState("a", asyncmqtype.StateCompleted)
		requireJSON(t, j.Result, `{"sent":2}`, "Result")
		requireTime(t, j.FinishedAt, at(3*time.Second), "FinishedAt")
		requireEqual(t, j.LeaseToken, "", "LeaseToken")
		requireTime(t, j.LeaseExpiresAt, time.Time{}, "LeaseExpiresAt")
		requireEqual(t, j.WorkerID, "w1", "WorkerID")
		requireEqual(t, j.Attempts, 1, "Attempts")
		requireEqual(t, len(j.Errors), 0, "Errors")
		requireEqual(t, len(s.claim(at(4*time.Second), 10)), 0, "claimable after completion")
		s.requireCounts("default", counts{asyncmqtype.StateCompleted: 1})
	})

	t.Run("Retry", func(t *testing.T) {
		t.Parallel()
		now := at(10 * time.Second)
		tests := []struct {
			name      string
			delay     time.Duration
			wantState asyncmqtype.State
			wantRunAt time.Time
		}{
			{"later is delayed", 50 * time.Second, asyncmqtype.StateDelayed, at(time.Minute)},
			{"no delay is waiting", 0, asyncmqtype.StateWaiting, now},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("a"))
				s.finishOK(now, s.claimOne(t0, "a"), asyncmqtype.OutcomeRetry, func(f *backend.Finish) {
					f.RetryDelay = tt.delay
				})
				j := s.requireState("a", tt.wantState)
				requireTime(t, j.RunAt, tt.wantRunAt, "RunAt")
				requireTime(t, j.FinishedAt, time.Time{}, "FinishedAt")
				requireEqual(t, j.LeaseToken, "", "LeaseToken")
				requireEqual(t, j.Attempts, 1, "Attempts")
				if len(j.Errors) != 1 {
					t.Fatalf("Errors = %+v, want one", j.Errors)
				}
				requireEqual(t, j.Errors[0].Attempt, 1, "Errors[0].Attempt")
				requireEqual(t, j.Errors[0].Error, "boom", "Errors[0].Error")
				requireTime(t, j.Errors[0].At, now, "Errors[0].At defaults to Now")
				s.requireCounts("default", counts{tt.wantState: 1})
			})
		}
	})

	t.Run("RetryUntilFailed", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		for attempt := 1; attempt <= 2; attempt++ {
			now := at(time.Duration(attempt) * time.Minute)
			s.finishOK(now, s.claimOne(now, "a"), asyncmqtype.OutcomeRetry, func(f *backend.Finish) {
				f.RetryDelay = 30 * time.Second
				f.Error = &asyncmqtype.AttemptError{Error: "try again", Attempt: 99}
			})
			requireEqual(t, s.promote(now.Add(30*time.Second)), 1, "promoted")
		}
		last := s.claimOne(at(3*time.Minute), "a")
		requireEqual(t, last.Attempts, 3, "Attempts")
		s.finishOK(at(3*time.Minute), last, asyncmqtype.OutcomeFailed)
		j := s.requireState("a", asyncmqtype.StateFailed)
		var attempts []int
		for _, e := range j.Errors {
			attempts = append(attempts, e.Attempt)
		}
		requireEqual(t, attempts, []int{1, 2, 3}, "attempt numbers of Errors (set by the backend)")
		requireEqual(t, j.LastError().Error, "boom", "last error")
		requireTime(t, j.FinishedAt, at(3*time.Minute), "FinishedAt")
		s.requireCounts("default", counts{asyncmqtype.StateFailed: 1})
	})

	t.Run("FailedAndCancelled", func(t *testing.T) {
		t.Parallel()
		for _, o := range []asyncmqtype.Outcome{asyncmqtype.OutcomeFailed, asyncmqtype.OutcomeCancelled} {
			t.Run(string(o), func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("a"))
				s.finishOK(at(time.Second), s.claimOne(t0, "a"), o, func(f *backend.Finish) {
					f.Error = &asyncmqtype.AttemptError{Error: "no", Stack: "stack"}
				})
				want := asyncmqtype.State(o)
				j := s.requireState("a", want)
				requireTime(t, j.FinishedAt, at(time.Second), "FinishedAt")
				requireEqual(t, len(j.Errors), 1, "Errors")
				requireEqual(t, j.Errors[0].Stack, "stack", "Errors[0].Stack")
				s.requireCounts("default", counts{want: 1})
			})
		}
	})

	t.Run("WithoutError", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		s.finishOK(t0, s.claimOne(t0, "a"), asyncmqtype.OutcomeCancelled, func(f *backend.Finish) { f.Error = nil })
		requireEqual(t, len(s.requireState("a", asyncmqtype.StateCancelled).Errors), 0, "Errors")
	})

	t.Run("OnlyUnderTheLease", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"))
		jobs := s.claim(t0, 2)
		errs := s.finish(at(time.Second),
			backend.Finish{JobID: "a", LeaseToken: jobs[0].LeaseToken, Outcome: asyncmqtype.OutcomeCompleted},
			backend.Finish{JobID: "b", LeaseToken: "not-the-token", Outcome: asyncmqtype.OutcomeCompleted},
			backend.Finish{JobID: "b", Outcome: asyncmqtype.OutcomeCompleted},
			backend.Finish{JobID: "ghost", LeaseToken: jobs[1].LeaseToken, Outcome: asyncmqtype.OutcomeCompleted},
			backend.Finish{JobID: "a", LeaseToken: jobs[0].LeaseToken, Outcome: asyncmqtype.OutcomeFailed},
		)
		requireNoError(t, errs[0], "finish a")
		for i, what := range []string{"b with another token", "b without a token", "an unknown job", "a twice"} {
			requireErrorIs(t, errs[i+1], asyncmqtype.ErrLeaseLost, "finish "+what)
		}
		s.requireState("a", asyncmqtype.StateCompleted)
		b := s.requireState("b", asyncmqtype.StateActive)
		requireEqual(t, b.LeaseToken, jobs[1].LeaseToken, "b's lease token")
		s.requireCounts("default", counts{asyncmqtype.StateCompleted: 1, asyncmqtype.StateActive: 1})
	})

	t.Run("InvalidItem", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			mod  func(*backend.Finish)
		}{
			{"unknown outcome", func(f *backend.Finish) { f.Outcome = "exploded" }},
			{"result not JSON", func(f *backend.Finish) { f.Result = json.RawMessage(`{"a":`) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("a"))
				j := s.claimOne(t0, "a")
				f := backend.Finish{JobID: "a", LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
				tt.mod(&f)
				requireErrorIs(t, s.finish(t0, f)[0], asyncmqtype.ErrInvalid, "finish")
				requireEqual(t, s.requireState("a", asyncmqtype.StateActive).LeaseToken, j.LeaseToken, "lease token")
			})
		}
	})

	t.Run("Release", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"))
		jobs := s.claim(t0, 2)
		requireNoError(t, s.b.Release(s.ctx, backend.ReleaseParams{Now: at(time.Second), Leases: []backend.Lease{
			{JobID: "a", LeaseToken: jobs[0].LeaseToken},
			{JobID: "b", LeaseToken: "not-the-token"},
			{JobID: "ghost", LeaseToken: "x"},
		}}), "release")
		a := s.requireState("a", asyncmqtype.StateWaiting)
		requireEqual(t, a.Attempts, 0, "Attempts after release")
		requireEqual(t, a.LeaseToken, "", "LeaseToken after release")
		requireTime(t, a.LeaseExpiresAt, time.Time{}, "LeaseExpiresAt after release")
		s.requireState("b", asyncmqtype.StateActive)
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateActive: 1})
		requireEqual(t, s.claimOne(at(time.Second), "a").Attempts, 1, "Attempts when claimed again")
	})

	t.Run("ReleaseCancelRequested", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		j := s.claimOne(t0, "a")
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"a"}}), 1, "cancelled")
		requireNoError(t, s.b.Release(s.ctx, backend.ReleaseParams{Now: at(time.Second), Leases: []backend.Lease{
			{JobID: "a", LeaseToken: j.LeaseToken},
		}}), "release")
		got := s.requireState("a", asyncmqtype.StateCancelled)
		requireTime(t, got.FinishedAt, at(time.Second), "FinishedAt")
		requireEqual(t, got.CancelRequested, false, "CancelRequested")
		s.requireCounts("default", counts{asyncmqtype.StateCancelled: 1})
	})

	t.Run("SetProgress", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		j := s.claimOne(t0, "a")
		progress := func(token, value string) error {
			return s.b.SetProgress(s.ctx, backend.ProgressParams{
				Lease: backend.Lease{JobID: "a", LeaseToken: token}, Progress: json.RawMessage(value),
			})
		}
		requireNoError(t, progress(j.LeaseToken, `{"pct":10}`), "set progress")
		requireNoError(t, progress(j.LeaseToken, `{"pct":20,"step":"upload"}`), "set progress again")
		requireJSON(t, s.get("a").Progress, `{"pct":20,"step":"upload"}`, "Progress")
		requireErrorIs(t, progress("not-the-token", `{"pct":30}`), asyncmqtype.ErrLeaseLost, "set progress with another token")
		requireErrorIs(t, progress(j.LeaseToken, `{"pct":`), asyncmqtype.ErrInvalid, "set progress that is not JSON")
		requireJSON(t, s.get("a").Progress, `{"pct":20,"step":"upload"}`, "Progress after rejected reports")

		s.finishOK(t0, j, asyncmqtype.OutcomeCompleted)
		requireErrorIs(t, progress(j.LeaseToken, `{"pct":100}`), asyncmqtype.ErrLeaseLost, "set progress after finishing")
		requireJSON(t, s.get("a").Progress, `{"pct":20,"step":"upload"}`, "Progress kept after completion")
	})

	t.Run("PromoteDue", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(
			job("m1", runAt(at(time.Minute))),
			job("m2", runAt(at(2*time.Minute))),
			job("m3", runAt(at(3*time.Minute))),
			job("other", inQueue("q2"), runAt(at(time.Minute))),
		)
		requireEqual(t, s.promote(at(59*time.Second)), 0, "promoted before due")
		requireEqual(t, s.promote(at(2*time.Minute)), 3, "promoted")
		s.requireState("m1", asyncmqtype.StateWaiting)
		s.requireState("m2", asyncmqtype.StateWaiting)
		s.requireState("m3", asyncmqtype.StateDelayed)
		s.requireState("other", asyncmqtype.StateWaiting)
		requireEqual(t, s.promote(at(2*time.Minute)), 0, "promoted again")
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 2, asyncmqtype.StateDelayed: 1})
		requireTime(t, s.get("m2").RunAt, at(2*time.Minute), "RunAt kept")
	})
}
