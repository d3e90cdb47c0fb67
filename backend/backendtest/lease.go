package backendtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testLease(t *testing.T, newBackend factory) {
	heartbeat := func(s *bundle, now time.Time, leases ...backend.Lease) backend.HeartbeatResult {
		s.t.Helper()
		res, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{
			Worker: asyncmqtype.WorkerInfo{ID: "w1"}, Leases: leases, LeaseDuration: lease, Now: now,
		})
		requireNoError(s.t, err, "heartbeat")
		return res
	}
	leaseOf := func(j *asyncmqtype.JobInfo) backend.Lease {
		return backend.Lease{JobID: j.ID, LeaseToken: j.LeaseToken}
	}

	t.Run("HeartbeatExtends", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		j := s.claimOne(t0, "a")
		res := heartbeat(s, at(20*time.Second), leaseOf(j))
		requireEqual(t, len(res.Lost)+len(res.Cancelled), 0, "lost and cancelled")
		requireTime(t, s.get("a").LeaseExpiresAt, at(50*time.Second), "LeaseExpiresAt")
		requireRecovered(t, s.recover(at(40*time.Second), 3), nil, nil, "recovered before the new expiry")
		requireEqual(t, s.recover(at(51*time.Second), 3).Requeued, []string{"a"}, "requeued after it")
	})

	t.Run("HeartbeatReportsLost", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"), job("c"))
		jobs := s.claim(t0, 3)
		s.finishOK(t0, jobs[1], asyncmqtype.OutcomeCompleted)
		res := heartbeat(s, at(10*time.Second),
			leaseOf(jobs[0]),
			leaseOf(jobs[1]),
			backend.Lease{JobID: "c", LeaseToken: "not-the-token"},
			backend.Lease{JobID: "ghost", LeaseToken: "x"},
		)
		requireIDs(t, sorted(res.Lost), []string{"b", "c", "ghost"}, "lost")
		requireEqual(t, len(res.Cancelled), 0, "cancelled")
		requireTime(t, s.get("a").LeaseExpiresAt, at(40*time.Second), "a's lease (extended)")
		requireTime(t, s.get("c").LeaseExpiresAt, at(30*time.Second), "c's lease (not extended)")
	})

	t.Run("HeartbeatReportsCancelled", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"))
		jobs := s.claim(t0, 2)
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"a"}}), 1, "cancelled")
		a := s.requireState("a", asyncmqtype.StateActive)
		requireEqual(t, a.CancelRequested, true, "CancelRequested")

		res := heartbeat(s, at(10*time.Second), leaseOf(jobs[0]), leaseOf(jobs[1]))
		requireEqual(t, res.Cancelled, []string{"a"}, "cancelled")
		requireEqual(t, len(res.Lost), 0, "lost")
		requireTime(t, s.get("a").LeaseExpiresAt, at(40*time.Second), "a's lease (still extended)")

		s.finishOK(at(11*time.Second), jobs[0], asyncmqtype.OutcomeCancelled)
		a = s.requireState("a", asyncmqtype.StateCancelled)
		requireEqual(t, a.CancelRequested, false, "CancelRequested after finishing")
	})

	t.Run("RecoverStalled", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		first := s.claimOne(t0, "a")
		requireRecovered(t, s.recover(at(lease), 1), nil, nil, "recovered at the expiry instant")

		requireRecovered(t, s.recover(at(lease+time.Second), 1), []string{"a"}, nil, "recovered")
		j := s.requireState("a", asyncmqtype.StateWaiting)
		requireEqual(t, j.Stalls, 1, "Stalls")
		requireEqual(t, j.Attempts, 1, "Attempts (the stalled attempt counts)")
		requireEqual(t, j.LeaseToken, "", "LeaseToken")
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1})

		second := s.claimOne(at(time.Minute), "a")
		if second.LeaseToken == first.LeaseToken {
			t.Fatalf("a reclaimed job reuses lease token %q", first.LeaseToken)
		}
		requireRecovered(t, s.recover(at(2*time.Minute), 1), nil, []string{"a"}, "recovered")
		j = s.requireState("a", asyncmqtype.StateFailed)
		requireEqual(t, j.Stalls, 2, "Stalls")
		requireTime(t, j.FinishedAt, at(2*time.Minute), "FinishedAt")
		last := j.LastError()
		if last == nil || last.Attempt != 2 || !strings.Contains(last.Error, "stall") {
			t.Fatalf("last error = %+v, want attempt 2 saying the job stalled", last)
		}
		requireTime(t, last.At, at(2*time.Minute), "last error At")
		s.requireCounts("default", counts{asyncmqtype.StateFailed: 1})
	})

	t.Run("RecoverStalledMaxStallsZero", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		s.claimOne(t0, "a")
		requireEqual(t, s.recover(at(time.Minute), 0).Failed, []string{"a"}, "failed")
	})

	t.Run("RecoverStalledLimit", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"), job("c"))
		s.claimOne(at(2*time.Second), "a")
		s.claimOne(at(1*time.Second), "b")
		s.claimOne(at(3*time.Second), "c")
		res, err := s.b.RecoverStalled(s.ctx, backend.RecoverParams{Now: at(time.Minute), MaxStalls: 5, Limit: 2})
		requireNoError(t, err, "recover")
		requireIDs(t, res.Requeued, []string{"b", "a"}, "requeued (earliest expiry first)")
		requireEqual(t, s.recover(at(time.Minute), 5).Requeued, []string{"c"}, "requeued next")
	})

	t.Run("RecoverStalledCancelRequested", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		s.claimOne(t0, "a")
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"a"}}), 1, "cancelled")
		requireRecovered(t, s.recover(at(time.Minute), 5), nil, nil, "recovered")
		j := s.requireState("a", asyncmqtype.StateCancelled)
		requireTime(t, j.FinishedAt, at(time.Minute), "FinishedAt")
		s.requireCounts("default", counts{asyncmqtype.StateCancelled: 1})
	})

	t.Run("StaleLeaseRejected", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		stale := s.claimOne(t0, "a")
		s.recover(at(time.Minute), 5)

		finishStale := func(what string) {
			t.Helper()
			errs := s.finish(at(time.Minute), backend.Finish{JobID: "a", LeaseToken: stale.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted})
			requireErrorIs(t, errs[0], asyncmqtype.ErrLeaseLost, "finish with the stale token "+what)
		}
		finishStale("after recovery")
		s.requireState("a", asyncmqtype.StateWaiting)
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1})

		fresh := s.claimOne(at(time.Minute), "a")
		finishStale("after reclaim")
		requireEqual(t, heartbeat(s, at(time.Minute), leaseOf(stale)).Lost, []string{"a"}, "lost by the stale heartbeat")
		err := s.b.SetProgress(s.ctx, backend.ProgressParams{Lease: leaseOf(stale), Progress: json.RawMessage(`1`)})
		requireErrorIs(t, err, asyncmqtype.ErrLeaseLost, "set progress with the stale token")
		requireNoError(t, s.b.Release(s.ctx, backend.ReleaseParams{Now: at(time.Minute), Leases: []backend.Lease{leaseOf(stale)}}), "release the stale lease")
		j := s.requireState("a", asyncmqtype.StateActive)
		requireEqual(t, j.LeaseToken, fresh.LeaseToken, "lease token")
		requireTime(t, j.LeaseExpiresAt, at(time.Minute+lease), "LeaseExpiresAt")
		requireEqual(t, len(j.Progress), 0, "Progress")

		s.finishOK(at(time.Minute), fresh, asyncmqtype.OutcomeCompleted)
		s.requireCounts("default", counts{asyncmqtype.StateCompleted: 1})
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		j := s.claimOne(t0, "a")
		_, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Leases: []backend.Lease{leaseOf(j)}, LeaseDuration: lease, Now: t0})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "heartbeat without a worker ID")
		_, err = s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w1"}, Leases: []backend.Lease{leaseOf(j)}, Now: t0})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "heartbeat without a lease duration")
		_, err = s.b.RecoverStalled(s.ctx, backend.RecoverParams{Now: at(time.Hour), MaxStalls: -1})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "recover with negative max stalls")
		_, err = s.b.RecoverStalled(s.ctx, backend.RecoverParams{Now: at(time.Hour), Limit: -1})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "recover with a negative limit")
		requireTime(t, s.requireState("a", asyncmqtype.StateActive).LeaseExpiresAt, at(lease), "LeaseExpiresAt")
	})
}
