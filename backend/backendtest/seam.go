package backendtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// signalWait bounds how long the notification tests wait for a signal. Stores signal within
// milliseconds; the bound is generous so a loaded CI machine does not fail them.
const signalWait = 5 * time.Second

// testLeader checks the Elector: one holder at a time, extension by the holder, takeover after
// expiry (failover within one TTL of the leader's last extension), resignation.
func testLeader(t *testing.T, newBackend factory) {
	t.Run("OneHolderAndFailover", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		const ttl = 10 * time.Second
		elect := func(holder string, now time.Time) backend.Leadership {
			t.Helper()
			l, err := s.b.Elect(s.ctx, backend.ElectParams{Name: "maintenance", Holder: holder, TTL: ttl, Now: now})
			requireNoError(t, err, "elect "+holder)
			return l
		}
		l := elect("a", t0)
		requireEqual(t, l.Holder, "a", "first election")
		requireTime(t, l.Expires, at(ttl), "Expires")
		requireEqual(t, elect("b", at(5*time.Second)).Holder, "a", "b while a holds")
		l = elect("a", at(8*time.Second))
		requireEqual(t, l.Holder, "a", "a extends")
		requireTime(t, l.Expires, at(8*time.Second+ttl), "Expires after extension")
		requireEqual(t, elect("b", at(8*time.Second+ttl)).Holder, "a", "b at the exact expiry")
		l = elect("b", at(8*time.Second+ttl+time.Millisecond))
		requireEqual(t, l.Holder, "b", "b after a's lease expired")
		requireEqual(t, elect("a", at(19*time.Second)).Holder, "b", "a after losing the lease")

		// Another role is independent.
		other, err := s.b.Elect(s.ctx, backend.ElectParams{Name: "other", Holder: "a", TTL: ttl, Now: at(19 * time.Second)})
		requireNoError(t, err, "elect another role")
		requireEqual(t, other.Holder, "a", "holder of another role")

		requireNoError(t, s.b.Resign(s.ctx, backend.ResignParams{Name: "maintenance", Holder: "a"}), "resign by a non-holder")
		requireEqual(t, elect("a", at(20*time.Second)).Holder, "b", "a after a resignation that was not its to make")
		requireNoError(t, s.b.Resign(s.ctx, backend.ResignParams{Name: "maintenance", Holder: "b"}), "resign by the holder")
		requireEqual(t, elect("a", at(21*time.Second)).Holder, "a", "a right after b resigned")
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for _, p := range []backend.ElectParams{
			{Holder: "a", TTL: time.Second},
			{Name: "m", TTL: time.Second},
			{Name: "m", Holder: "a"},
			{Name: "m", Holder: "a", TTL: -time.Second},
		} {
			_, err := s.b.Elect(s.ctx, p)
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, fmt.Sprintf("elect %+v", p))
		}
		for _, p := range []backend.ResignParams{{Holder: "a"}, {Name: "m"}} {
			requireErrorIs(t, s.b.Resign(s.ctx, p), asyncmqtype.ErrInvalid, fmt.Sprintf("resign %+v", p))
		}
	})
}

// testSeam checks the contract points of the recut seam that have no older group: pruning dead
// workers, a bounded promotion, the store's own clock, queue names, and cursors under concurrent
// writers.
func testSeam(t *testing.T, newBackend factory) {
	t.Run("PruneWorkers", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for i, hb := range []time.Time{t0, at(time.Minute), at(2 * time.Minute)} {
			_, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: fmt.Sprintf("w%d", i)}, Now: hb})
			requireNoError(t, err, "heartbeat")
		}
		n, err := s.b.PruneWorkers(s.ctx, backend.PruneWorkersParams{Before: at(time.Minute)})
		requireNoError(t, err, "prune workers")
		requireEqual(t, n, 1, "pruned")
		ws, err := s.b.Workers(s.ctx)
		requireNoError(t, err, "list workers")
		var got []string
		for _, w := range ws {
			got = append(got, w.ID)
		}
		requireIDs(t, got, []string{"w2", "w1"}, "workers left")
		_, err = s.b.PruneWorkers(s.ctx, backend.PruneWorkersParams{})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "prune workers without a Before time")
	})

	t.Run("PromoteDueLimit", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("c", runAt(at(3*time.Second))), job("a", runAt(at(time.Second))), job("b", runAt(at(2*time.Second))), job("later", runAt(at(time.Hour))))
		n, err := s.b.PromoteDue(s.ctx, backend.PromoteParams{Now: at(time.Minute), Limit: 2})
		requireNoError(t, err, "promote with a limit")
		requireEqual(t, n, 2, "promoted with limit 2")
		s.requireState("a", asyncmqtype.StateWaiting)
		s.requireState("b", asyncmqtype.StateWaiting)
		s.requireState("c", asyncmqtype.StateDelayed)
		requireEqual(t, s.promote(at(time.Minute)), 1, "promoted the rest")
		s.requireState("later", asyncmqtype.StateDelayed)
		_, err = s.b.PromoteDue(s.ctx, backend.PromoteParams{Limit: -1})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "promote with a negative limit")
	})

	// A zero Now is the store's clock, which for every store is within seconds of the real one.
	// Workers rely on it so that their own clocks never decide lease expiry or due times.
	t.Run("StoreClock", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		real := time.Now()
		requireNoError(t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{
			job("now"), job("hour", runAt(real.Add(time.Hour))),
		}}), "enqueue with the store clock")
		requireState := func(id string, want asyncmqtype.State) *asyncmqtype.JobInfo {
			j := s.get(id)
			requireEqual(t, j.State, want, id+" state")
			return j
		}
		j := requireState("now", asyncmqtype.StateWaiting)
		if d := j.CreatedAt.Sub(real); d < -time.Minute || d > time.Minute {
			t.Fatalf("CreatedAt %s is %s from the real clock, want the store clock", j.CreatedAt, d)
		}
		requireState("hour", asyncmqtype.StateDelayed)
		n, err := s.b.PromoteDue(s.ctx, backend.PromoteParams{})
		requireNoError(t, err, "promote with the store clock")
		requireEqual(t, n, 0, "promoted an hour early")
		jobs, err := s.b.Claim(s.ctx, backend.ClaimParams{Queue: "default", WorkerID: "w", Limit: 5, LeaseDuration: time.Hour})
		requireNoError(t, err, "claim with the store clock")
		requireIDs(t, ids(jobs), []string{"now"}, "claimed with the store clock")
		if d := jobs[0].LeaseExpiresAt.Sub(real.Add(time.Hour)); d < -time.Minute || d > time.Minute {
			t.Fatalf("LeaseExpiresAt %s is %s from real now + 1h", jobs[0].LeaseExpiresAt, d)
		}
		res, err := s.b.RecoverStalled(s.ctx, backend.RecoverParams{MaxStalls: 1})
		requireNoError(t, err, "recover with the store clock")
		requireRecovered(t, res, nil, nil, "recovered a lease an hour early")
	})

	t.Run("QueueNames", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for _, name := range []string{".", "..", "a/b", "tab\there", "x\u0085y", string([]byte{0xff})} {
			err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{job("j", inQueue(name))}, Now: t0})
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, fmt.Sprintf("enqueue to queue %q", name))
			requireErrorIs(t, s.b.SetQueuePaused(s.ctx, name, true), asyncmqtype.ErrInvalid, fmt.Sprintf("pause queue %q", name))
		}
		qs, err := s.b.Queues(s.ctx)
		requireNoError(t, err, "list queues")
		requireEqual(t, len(qs), 0, "queues after refused names")
		s.enqueue(job("ok", inQueue("emails.v2-high_priority")))
	})

	// Readers that resume from their last cursor while several writers append see every event
	// exactly once, in an order that keeps each writer's own events in sequence.
	t.Run("CursorsUnderConcurrentWriters", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		const writers, perWriter = 4, 25
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{job(fmt.Sprintf("w%d-%03d", w, i))}, Now: t0})
					if err != nil {
						t.Errorf("enqueue: %v", err)
						return
					}
				}
			})
		}
		seen := make(map[string]int)
		var order []string
		cursor := ""
		deadline := time.Now().Add(30 * time.Second)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		finished := false
		for len(order) < writers*perWriter && time.Now().Before(deadline) {
			evs, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{After: cursor, Limit: 7})
			requireNoError(t, err, "read events")
			for _, e := range evs {
				seen[e.JobID]++
				order = append(order, e.JobID)
				cursor = e.Cursor
			}
			if len(evs) == 0 {
				if finished {
					break
				}
				select {
				case <-done:
					finished = true
				case <-time.After(time.Millisecond):
				}
			}
		}
		requireEqual(t, len(order), writers*perWriter, "events read")
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event of %s read %d times", id, n)
			}
		}
		last := make(map[byte]string)
		for _, id := range order {
			if prev := last[id[1]]; prev > id {
				t.Fatalf("event of %s read after %s of the same writer", id, prev)
			}
			last[id[1]] = id
		}
	})
}

// testNotify checks the Notifier of a store that has one: a job that becomes claimable signals
// the subscribers of its queue, and only them.
func testNotify(t *testing.T, newBackend factory) {
	t.Run("Wakeup", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		n, ok := s.b.(backend.Notifier)
		if !ok {
			t.Skip("the store has no Notifier; workers poll")
		}
		c, stop := n.Subscribe("default")
		defer stop()
		other, stopOther := n.Subscribe("other")
		defer stopOther()
		drain(c)
		s.enqueue(job("a"))
		requireSignal(t, c, "after an enqueue")
		requireNoSignal(t, other, "on another queue's subscription")

		// A retry without delay makes the job claimable again.
		drain(c)
		s.finishOK(t0, s.claimOne(t0, "a"), asyncmqtype.OutcomeRetry)
		requireSignal(t, c, "after a retry")

		// So does a promotion.
		s.enqueue(job("d", runAt(at(time.Minute))))
		drain(c)
		requireEqual(t, s.promote(at(time.Minute)), 1, "promoted")
		requireSignal(t, c, "after a promotion")

		stop()
		drain(c)
		s.enqueue(job("after-stop"))
		requireNoSignal(t, c, "after the subscription ended")
	})
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func requireSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(signalWait):
		t.Fatalf("no signal %s within %s", what, signalWait)
	}
}

func requireNoSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
		t.Fatalf("unexpected signal %s", what)
	case <-time.After(20 * time.Millisecond):
	}
}
