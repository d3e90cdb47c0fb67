package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// RunShared checks that two handles on one store (two processes, in production) see each
// other's writes and never both win a race: pauses, rate limits, claims, leases, repeatable
// firings and events are shared. open returns two fresh handles on one new, empty store and
// registers their cleanup with t.Cleanup. Durable backends call it next to Run.
func RunShared(t *testing.T, open func(t *testing.T) (a, b backend.Store)) {
	t.Helper()
	type pair struct{ a, b *bundle }
	setup2 := func(t *testing.T) pair {
		t.Helper()
		a, b := open(t)
		return pair{&bundle{t: t, b: a, ctx: t.Context()}, &bundle{t: t, b: b, ctx: t.Context()}}
	}

	t.Run("Pause", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		p.a.enqueue(job("j"))
		requireNoError(t, p.a.b.SetQueuePaused(p.a.ctx, "default", true), "pause through a")
		requireEqual(t, len(p.b.claim(t0, 10)), 0, "claimed through b while paused")
		qi, err := p.b.b.Queue(p.b.ctx, "default")
		requireNoError(t, err, "get queue through b")
		requireEqual(t, qi.Paused, true, "Paused seen through b")
		requireNoError(t, p.b.b.SetQueuePaused(p.b.ctx, "default", false), "resume through b")
		p.a.claimOne(t0, "j")
	})

	t.Run("RateLimit", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		p.a.enqueue(job("j1"), job("j2"), job("j3"))
		requireNoError(t, p.a.b.SetRateLimit(p.a.ctx, backend.RateLimitParams{Queue: "default", Limit: 2, Interval: time.Minute}), "set rate limit through a")
		requireIDs(t, ids(p.a.claim(t0, 1)), []string{"j1"}, "claimed through a")
		requireIDs(t, ids(p.b.claim(at(time.Second), 5)), []string{"j2"}, "claimed through b")
		requireEqual(t, len(p.a.claim(at(2*time.Second), 5)), 0, "claimed through a over the limit")
		requireIDs(t, ids(p.b.claim(at(time.Minute), 5)), []string{"j3"}, "claimed through b in the next window")
	})

	t.Run("Leader", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		elect := func(s *bundle, holder string, now time.Time) string {
			t.Helper()
			l, err := s.b.Elect(s.ctx, backend.ElectParams{Name: "maintenance", Holder: holder, TTL: 10 * time.Second, Now: now})
			requireNoError(t, err, "elect "+holder)
			return l.Holder
		}
		requireEqual(t, elect(p.a, "a", t0), "a", "a through a")
		requireEqual(t, elect(p.b, "b", at(9*time.Second)), "a", "b through b while a holds")
		requireEqual(t, elect(p.b, "b", at(11*time.Second)), "b", "b through b after a's lease expired")
		requireEqual(t, elect(p.a, "a", at(12*time.Second)), "b", "a through a after losing the lease")
	})

	// A store that notifies across processes wakes a subscriber of one handle when a job is
	// enqueued through the other.
	t.Run("NotifyAcrossHandles", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		n, ok := p.a.b.(backend.Notifier)
		if !ok || !n.AcrossProcesses() {
			t.Skip("the store does not notify across processes; workers of other processes poll")
		}
		c, stop := n.Subscribe("default")
		defer stop()
		drain(c)
		p.b.enqueue(job("j"))
		requireSignal(t, c, "through a after an enqueue through b")
	})

	t.Run("ClaimsNeverShared", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		batch := make([]*asyncmqtype.JobInfo, 120)
		for i := range batch {
			batch[i] = job(fmt.Sprintf("j%03d", i))
		}
		p.a.enqueue(batch...)
		claimConcurrently(t, []backend.Store{p.a.b, p.b.b}, 6, len(batch))
		p.b.requireCounts("default", counts{asyncmqtype.StateActive: len(batch)})
	})

	t.Run("LeaseAcrossHandles", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		p.a.enqueue(job("j"))
		j := p.a.claimOne(t0, "j")
		res, err := p.b.b.Heartbeat(p.b.ctx, backend.HeartbeatParams{
			Worker: asyncmqtype.WorkerInfo{ID: "w1"}, Leases: []backend.Lease{{JobID: "j", LeaseToken: j.LeaseToken}}, LeaseDuration: lease, Now: at(20 * time.Second),
		})
		requireNoError(t, err, "heartbeat through b")
		requireEqual(t, len(res.Lost), 0, "lost")
		requireRecovered(t, p.a.recover(at(40*time.Second), 1), nil, nil, "recovered through a after b's heartbeat")
		requireRecovered(t, p.b.recover(at(time.Minute), 1), []string{"j"}, nil, "recovered through b")
		errs := p.a.finish(at(time.Minute), backend.Finish{JobID: "j", LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted})
		requireErrorIs(t, errs[0], asyncmqtype.ErrLeaseLost, "stale finish through a")
		p.a.requireState("j", asyncmqtype.StateWaiting)
		fresh := p.b.claimOne(at(time.Minute), "j")
		p.a.finishOK(at(time.Minute), fresh, asyncmqtype.OutcomeCompleted)
		p.b.requireState("j", asyncmqtype.StateCompleted)
	})

	t.Run("FireOnce", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		requireNoError(t, p.a.b.UpsertRepeatable(p.a.ctx, repeatable("r", "default")), "upsert through a")
		fireConcurrently(t, []backend.Store{p.a.b, p.b.b}, 6)
	})

	t.Run("Events", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		for i := range 6 {
			s := p.a
			if i%2 == 1 {
				s = p.b
			}
			s.enqueue(job(fmt.Sprintf("j%d", i)))
		}
		fromA, fromB := p.a.events(""), p.b.events("")
		requireEqual(t, len(fromA), 6, "events seen through a")
		requireEqual(t, eventIDs(fromA), eventIDs(fromB), "event IDs through a and b")
		requireDistinctCursors(t, fromA)
		for i, e := range fromA {
			requireEqual(t, e.JobID, fmt.Sprintf("j%d", i), "event order")
		}
	})

	t.Run("ConcurrentProducersAndWorkers", func(t *testing.T) {
		t.Parallel()
		p := setup2(t)
		runConcurrently(t, []backend.Store{p.a.b, p.b.b}, 2, 4, 30)
		p.a.requireCounts("default", counts{asyncmqtype.StateCompleted: 60})
	})
}
