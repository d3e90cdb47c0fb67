package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testQueue(t *testing.T, newBackend factory) {
	const (
		W  = asyncmqtype.StateWaiting
		A  = asyncmqtype.StateActive
		D  = asyncmqtype.StateDelayed
		C  = asyncmqtype.StateCompleted
		F  = asyncmqtype.StateFailed
		X  = asyncmqtype.StateCancelled
		WC = asyncmqtype.StateWaitingChildren
		q  = "default"
		q2 = "other"
	)

	t.Run("CountsAfterEveryTransition", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a", withPriority(1)), job("b", withPriority(2)), job("c", withPriority(3)), job("d", runAt(at(time.Minute))))
		s.requireCounts(q, counts{W: 3, D: 1})
		s.enqueue(job("child", withPriority(0), dependsOn("a")))
		s.requireCounts(q, counts{W: 3, WC: 1, D: 1})

		jobs := s.claim(t0, 2) // a, b
		s.requireCounts(q, counts{W: 1, WC: 1, A: 2, D: 1})
		s.finishOK(t0, jobs[0], asyncmqtype.OutcomeCompleted) // child becomes claimable
		s.requireCounts(q, counts{W: 2, A: 1, D: 1, C: 1})
		s.finishOK(t0, jobs[1], asyncmqtype.OutcomeRetry, func(f *backend.Finish) { f.RetryDelay = time.Minute })
		s.requireCounts(q, counts{W: 2, D: 2, C: 1})

		requireEqual(t, s.promote(at(time.Minute)), 2, "promoted")
		s.requireCounts(q, counts{W: 4, C: 1})
		jobs = s.claim(at(time.Minute), 3) // child, b, c
		requireIDs(t, ids(jobs), []string{"child", "b", "c"}, "claimed")
		s.requireCounts(q, counts{W: 1, A: 3, C: 1})
		s.finishOK(at(time.Minute), jobs[0], asyncmqtype.OutcomeFailed)
		s.finishOK(at(time.Minute), jobs[1], asyncmqtype.OutcomeCancelled)
		s.requireCounts(q, counts{W: 1, A: 1, C: 1, F: 1, X: 1})

		requireRecovered(t, s.recover(at(2*time.Minute), 5), []string{"c"}, nil, "recovered")
		s.requireCounts(q, counts{W: 2, C: 1, F: 1, X: 1})
		jobs = s.claim(at(2*time.Minute), 1) // c
		requireNoError(t, s.b.Release(s.ctx, backend.ReleaseParams{Now: at(2 * time.Minute), Leases: []backend.Lease{
			{JobID: jobs[0].ID, LeaseToken: jobs[0].LeaseToken},
		}}), "release")
		s.requireCounts(q, counts{W: 2, C: 1, F: 1, X: 1})

		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"child", "b"}}), 2, "retried")
		s.requireCounts(q, counts{W: 4, C: 1})
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"child"}}), 1, "cancelled")
		s.requireCounts(q, counts{W: 3, C: 1, X: 1})
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: []string{"child", "a"}}), 2, "removed")
		s.requireCounts(q, counts{W: 3})

		s.enqueue(job("e", runAt(at(time.Hour))))
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionPromote, IDs: []string{"e"}}), 1, "promoted")
		s.requireCounts(q, counts{W: 4})
		n, err := s.b.Drain(s.ctx, q, false)
		requireNoError(t, err, "drain")
		requireEqual(t, n, 4, "drained")
		s.requireCounts(q, counts{})
	})

	t.Run("KnownQueues", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		qs, err := s.b.Queues(s.ctx)
		requireNoError(t, err, "list queues")
		requireEqual(t, len(qs), 0, "queues of an empty store")

		s.enqueue(job("j", inQueue("by-job")))
		requireNoError(t, s.b.SetQueuePaused(s.ctx, "by-pause", true), "pause")
		requireNoError(t, s.b.SetRateLimit(s.ctx, backend.RateLimitParams{Queue: "by-rate", Limit: 1, Interval: time.Second}), "set rate limit")
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "by-repeatable")), "upsert repeatable")
		_, err = s.b.Drain(s.ctx, "by-job", false)
		requireNoError(t, err, "drain")

		qs, err = s.b.Queues(s.ctx)
		requireNoError(t, err, "list queues")
		var names []string
		for _, qi := range qs {
			names = append(names, qi.Name)
			if len(qi.Counts) != len(asyncmqtype.States) {
				t.Errorf("queue %s: Counts = %v, want an entry for every state", qi.Name, qi.Counts)
			}
		}
		requireIDs(t, names, []string{"by-job", "by-pause", "by-rate", "by-repeatable"}, "queue names (a drained queue stays)")
		requireEqual(t, qs[1].Paused, true, "by-pause Paused")
		requireEqual(t, qs[0].Paused, false, "by-job Paused")

		_, err = s.b.Queue(s.ctx, "nope")
		requireErrorIs(t, err, asyncmqtype.ErrQueueNotFound, "get unknown queue")
		requireMentions(t, err, "nope")
	})

	t.Run("Pause", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a1", withPriority(1)), job("a2", withPriority(1)), job("b1", inQueue(q2), withPriority(9)))
		requireNoError(t, s.b.SetQueuePaused(s.ctx, q, true), "pause")
		qi, err := s.b.Queue(s.ctx, q)
		requireNoError(t, err, "get queue")
		requireEqual(t, qi.Paused, true, "Paused")
		requireIDs(t, ids(s.claim(t0, 10, q)), nil, "claimed while paused")
		requireIDs(t, ids(s.claim(t0, 10, q2)), []string{"b1"}, "claimed from another queue while paused")

		requireNoError(t, s.b.SetQueuePaused(s.ctx, q, false), "resume")
		qi, err = s.b.Queue(s.ctx, q)
		requireNoError(t, err, "get queue")
		requireEqual(t, qi.Paused, false, "Paused")
		requireIDs(t, ids(s.claim(t0, 10, q)), []string{"a1", "a2"}, "claimed after resume")
	})

	t.Run("RateLimit", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for i := range 6 {
			s.enqueue(job(fmt.Sprintf("j%d", i)))
		}
		s.enqueue(job("free", inQueue(q2), withPriority(9)))
		requireNoError(t, s.b.SetRateLimit(s.ctx, backend.RateLimitParams{Queue: q, Limit: 2, Interval: time.Minute}), "set rate limit")
		qi, err := s.b.Queue(s.ctx, q)
		requireNoError(t, err, "get queue")
		requireEqual(t, [2]any{qi.RateLimit, qi.RateInterval}, [2]any{2, time.Minute}, "rate limit")

		claimBy := func(worker string, now time.Time, limit int, queue string) []string {
			t.Helper()
			jobs, err := s.b.Claim(s.ctx, backend.ClaimParams{Queue: queue, WorkerID: worker, Limit: limit, LeaseDuration: lease, Now: now})
			requireNoError(t, err, "claim by "+worker)
			return ids(jobs)
		}
		requireIDs(t, claimBy("w1", at(10*time.Second), 1, q), []string{"j0"}, "first claim")
		requireIDs(t, claimBy("w2", at(20*time.Second), 5, q), []string{"j1"}, "second claim, by another worker")
		requireIDs(t, claimBy("w2", at(20*time.Second), 5, q2), []string{"free"}, "claim of another queue, not limited")
		requireIDs(t, claimBy("w3", at(69*time.Second), 5, q), nil, "claim just before the window ends")
		requireIDs(t, claimBy("w1", at(70*time.Second), 5, q), []string{"j2", "j3"}, "claim in the next window")

		requireNoError(t, s.b.SetRateLimit(s.ctx, backend.RateLimitParams{Queue: q}), "remove rate limit")
		qi, err = s.b.Queue(s.ctx, q)
		requireNoError(t, err, "get queue")
		requireEqual(t, qi.RateLimit, 0, "RateLimit after removal")
		requireIDs(t, claimBy("w1", at(71*time.Second), 5, q), []string{"j4", "j5"}, "claim without a limit")
	})

	t.Run("SettingsInvalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for _, p := range []backend.RateLimitParams{
			{Queue: q, Limit: -1, Interval: time.Second},
			{Queue: q, Limit: 1},
			{Limit: 1, Interval: time.Second},
		} {
			requireErrorIs(t, s.b.SetRateLimit(s.ctx, p), asyncmqtype.ErrInvalid, fmt.Sprintf("set rate limit %+v", p))
		}
		requireErrorIs(t, s.b.SetQueuePaused(s.ctx, "", true), asyncmqtype.ErrInvalid, "pause a queue without a name")
		qs, err := s.b.Queues(s.ctx)
		requireNoError(t, err, "list queues")
		requireEqual(t, len(qs), 0, "queues after invalid settings")
	})

	t.Run("Drain", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			includeDelayed bool
			want           int
			left           counts
		}{
			{false, 2, counts{A: 1, D: 1, C: 1}},
			{true, 3, counts{A: 1, C: 1}},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("includeDelayed=%v", tt.includeDelayed), func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("active"), job("done"))
				s.claimOne(t0, "active")
				s.complete(t0, "done")
				s.enqueue(job("w1"), job("w2", dependsOn("active")), job("d", runAt(at(time.Hour))), job("w-other", inQueue(q2)))
				n, err := s.b.Drain(s.ctx, q, tt.includeDelayed)
				requireNoError(t, err, "drain")
				requireEqual(t, n, tt.want, "drained")
				s.requireCounts(q, tt.left)
				s.requireCounts(q2, counts{W: 1})
				s.requireGone("w2")
			})
		}
		t.Run("unknown queue", func(t *testing.T) {
			t.Parallel()
			s := setup(t, newBackend)
			_, err := s.b.Drain(s.ctx, "nope", true)
			requireErrorIs(t, err, asyncmqtype.ErrQueueNotFound, "drain")
		})
	})

	t.Run("Clean", func(t *testing.T) { testClean(t, newBackend) })

	t.Run("Obliterate", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"), job("d", runAt(at(time.Hour))), job("keep", inQueue(q2)))
		a := s.claimOne(t0, "a")
		requireNoError(t, s.b.SetQueuePaused(s.ctx, q, true), "pause")
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r1", q)), "upsert repeatable")
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r2", q2)), "upsert repeatable")

		err := s.b.Obliterate(s.ctx, q, false)
		requireErrorIs(t, err, asyncmqtype.ErrQueueActive, "obliterate with an active job")
		s.requireCounts(q, counts{W: 1, A: 1, D: 1})
		_, err = s.b.GetRepeatable(s.ctx, "r1")
		requireNoError(t, err, "get repeatable after the refused obliterate")

		requireNoError(t, s.b.Obliterate(s.ctx, q, true), "obliterate with force")
		_, err = s.b.Queue(s.ctx, q)
		requireErrorIs(t, err, asyncmqtype.ErrQueueNotFound, "get obliterated queue")
		for _, id := range []string{"a", "b", "d"} {
			s.requireGone(id)
		}
		_, err = s.b.GetRepeatable(s.ctx, "r1")
		requireErrorIs(t, err, asyncmqtype.ErrRepeatableNotFound, "get repeatable of the obliterated queue")
		_, err = s.b.GetRepeatable(s.ctx, "r2")
		requireNoError(t, err, "get repeatable of another queue")
		s.requireCounts(q2, counts{W: 1})
		errs := s.finish(t0, backend.Finish{JobID: "a", LeaseToken: a.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted})
		requireErrorIs(t, errs[0], asyncmqtype.ErrLeaseLost, "finish a job of the obliterated queue")

		// A queue of the same name starts afresh: not paused.
		s.enqueue(job("again"))
		qi, err := s.b.Queue(s.ctx, q)
		requireNoError(t, err, "get queue")
		requireEqual(t, qi.Paused, false, "Paused after obliterate")
		requireErrorIs(t, s.b.Obliterate(s.ctx, "nope", true), asyncmqtype.ErrQueueNotFound, "obliterate unknown queue")
	})

	t.Run("ObliterateWithoutActiveJobs", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		s.complete(t0, "a")
		requireNoError(t, s.b.Obliterate(s.ctx, q, false), "obliterate")
		s.requireGone("a")
	})
}

func testClean(t *testing.T, newBackend factory) {
	t.Parallel()
	// Five completed jobs finished at t0+1s..t0+5s, one failed, one waiting.
	fill := func(s *bundle) {
		for i := 1; i <= 5; i++ {
			id := fmt.Sprintf("c%d", i)
			s.enqueue(job(id))
			s.complete(at(time.Duration(i)*time.Second), id)
		}
		s.enqueue(job("f"))
		s.finishOK(t0, s.claimOne(t0, "f"), asyncmqtype.OutcomeFailed)
		s.enqueue(job("w"))
	}
	tests := []struct {
		name string
		p    backend.CleanParams
		left []string
	}{
		{"older than", backend.CleanParams{OlderThan: at(4 * time.Second)}, []string{"c4", "c5"}},
		{"strictly older", backend.CleanParams{OlderThan: at(1 * time.Second)}, []string{"c1", "c2", "c3", "c4", "c5"}},
		{"limit takes the oldest", backend.CleanParams{OlderThan: at(time.Hour), Limit: 2}, []string{"c3", "c4", "c5"}},
		{"keep the newest", backend.CleanParams{Keep: 3}, []string{"c3", "c4", "c5"}},
		{"keep counts young jobs too", backend.CleanParams{OlderThan: at(4 * time.Second), Keep: 4}, []string{"c2", "c3", "c4", "c5"}},
		{"keep more than there are", backend.CleanParams{Keep: 10}, []string{"c1", "c2", "c3", "c4", "c5"}},
		{"zero older than is any age", backend.CleanParams{}, nil},
		{"limit and keep", backend.CleanParams{Limit: 1, Keep: 1}, []string{"c2", "c3", "c4", "c5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, newBackend)
			fill(s)
			tt.p.Queue, tt.p.State = "default", asyncmqtype.StateCompleted
			n, err := s.b.Clean(s.ctx, tt.p)
			requireNoError(t, err, "clean")
			requireEqual(t, n, 5-len(tt.left), "cleaned")
			page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateCompleted}, Sort: asyncmqtype.SortOldest})
			requireIDs(t, ids(page.Jobs), tt.left, "completed jobs left")
			s.requireCounts("default", counts{asyncmqtype.StateCompleted: len(tt.left), asyncmqtype.StateFailed: 1, asyncmqtype.StateWaiting: 1})
		})
	}
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		fill(s)
		for _, p := range []backend.CleanParams{
			{Queue: "default", State: asyncmqtype.StateWaiting},
			{Queue: "default", State: asyncmqtype.StateActive},
			{Queue: "default", State: "bogus"},
			{Queue: "default", State: asyncmqtype.StateCompleted, Limit: -1},
			{Queue: "default", State: asyncmqtype.StateCompleted, Keep: -1},
		} {
			_, err := s.b.Clean(s.ctx, p)
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, fmt.Sprintf("clean %+v", p))
		}
		_, err := s.b.Clean(s.ctx, backend.CleanParams{Queue: "nope", State: asyncmqtype.StateCompleted})
		requireErrorIs(t, err, asyncmqtype.ErrQueueNotFound, "clean unknown queue")
		s.requireCounts("default", counts{asyncmqtype.StateCompleted: 5, asyncmqtype.StateFailed: 1, asyncmqtype.StateWaiting: 1})
	})
}

// repeatable returns a valid definition due at t0.
func repeatable(id, queue string) asyncmqtype.Repeatable {
	return asyncmqtype.Repeatable{
		ID: id, Queue: queue, Task: "report.build", Interval: time.Hour, Priority: 5, NextRun: t0,
	}
}
