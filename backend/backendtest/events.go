package backendtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// wantEvent is an expected event; an empty Detail or zero At is not checked.
type wantEvent struct {
	typ    asyncmqtype.EventType
	jobID  string
	state  asyncmqtype.State
	detail string
	at     time.Time
}

func testEvents(t *testing.T, newBackend factory) {
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireEqual(t, s.lastCursor(), "", "LastEventCursor")
		requireEqual(t, len(s.events("")), 0, "events")
	})

	t.Run("CursorsResume", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for i := range 4 {
			s.enqueue(job(fmt.Sprintf("j%d", i)))
		}
		s.enqueue(job("other", inQueue("q2")))
		for _, j := range s.claim(t0, 2) {
			s.finishOK(t0, j, asyncmqtype.OutcomeCompleted)
		}
		all := s.events("")
		requireEqual(t, len(all), 9, "events")
		requireDistinctCursors(t, all)
		requireEqual(t, s.lastCursor(), all[len(all)-1].Cursor, "LastEventCursor")

		requireEqual(t, eventIDs(s.events(all[3].Cursor)), eventIDs(all[4:]), "events after the fourth")
		requireEqual(t, len(s.events(all[8].Cursor)), 0, "events after the last")

		limited, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{After: all[1].Cursor, Limit: 3})
		requireNoError(t, err, "read events")
		requireEqual(t, eventIDs(limited), eventIDs(all[2:5]), "limited events")

		recent, err := s.b.RecentEvents(s.ctx, asyncmqtype.RecentEventsParams{Limit: 3})
		requireNoError(t, err, "read recent events")
		requireEqual(t, eventIDs(recent), []string{all[8].Cursor, all[7].Cursor, all[6].Cursor}, "recent events, newest first")
		recent, err = s.b.RecentEvents(s.ctx, asyncmqtype.RecentEventsParams{Limit: 1000, Queue: "q2"})
		requireNoError(t, err, "read recent events of q2")
		requireEqual(t, len(recent), 1, "recent events of q2")
		requireEqual(t, recent[0].JobID, "other", "recent event of q2")
		for _, bad := range []int{0, -1, 1001} {
			_, err := s.b.RecentEvents(s.ctx, asyncmqtype.RecentEventsParams{Limit: bad})
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, fmt.Sprintf("recent events with limit %d", bad))
		}

		q2, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{Queue: "q2"})
		requireNoError(t, err, "read events of q2")
		requireEqual(t, len(q2), 1, "events of q2")
		requireEqual(t, [2]string{q2[0].Queue, q2[0].JobID}, [2]string{"q2", "other"}, "event of q2")

		_, err = s.b.Events(s.ctx, asyncmqtype.EventsParams{Limit: -1})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "read events with a negative limit")
	})

	t.Run("PerTransition", func(t *testing.T) { testEventPerTransition(t, newBackend) })
}

func testEventPerTransition(t *testing.T, newBackend factory) {
	t.Parallel()
	const (
		W = asyncmqtype.StateWaiting
		A = asyncmqtype.StateActive
		D = asyncmqtype.StateDelayed
	)
	finish := func(o asyncmqtype.Outcome, mods ...func(*backend.Finish)) func(*bundle, func()) {
		return func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			j := s.claimOne(t0, "a")
			mark()
			s.finishOK(at(time.Second), j, o, mods...)
		}
	}
	applyTo := func(a asyncmqtype.Action, state asyncmqtype.State) func(*bundle, func()) {
		return func(s *bundle, mark func()) {
			switch state {
			case D:
				s.enqueue(job("a", runAt(at(time.Hour))))
			case A:
				s.enqueue(job("a"))
				s.claimOne(t0, "a")
			case W:
				s.enqueue(job("a"))
			default:
				s.enqueue(job("a"))
				s.finishOK(t0, s.claimOne(t0, "a"), asyncmqtype.Outcome(state))
			}
			mark()
			s.apply(asyncmqtype.ApplyParams{Action: a, IDs: []string{"a"}, Now: at(time.Second)})
		}
	}
	queueOp := func(op func(s *bundle)) func(*bundle, func()) {
		return func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			s.complete(t0, "a")
			s.enqueue(job("b"))
			mark()
			op(s)
		}
	}
	tests := []struct {
		name string
		run  func(s *bundle, mark func())
		want []wantEvent
	}{
		{"enqueue", func(s *bundle, mark func()) { mark(); s.enqueue(job("a"), job("b", runAt(at(time.Hour)))) },
			[]wantEvent{{typ: asyncmqtype.EventEnqueued, jobID: "a", state: W, at: t0}, {typ: asyncmqtype.EventEnqueued, jobID: "b", state: D, at: t0}}},
		{"claim", func(s *bundle, mark func()) { s.enqueue(job("a")); mark(); s.claimOne(at(time.Second), "a") },
			[]wantEvent{{typ: asyncmqtype.EventStarted, jobID: "a", state: A, at: at(time.Second)}}},
		{"complete", finish(asyncmqtype.OutcomeCompleted),
			[]wantEvent{{typ: asyncmqtype.EventCompleted, jobID: "a", state: asyncmqtype.StateCompleted, at: at(time.Second)}}},
		{"retry later", finish(asyncmqtype.OutcomeRetry, func(f *backend.Finish) { f.RetryDelay = time.Hour }),
			[]wantEvent{{typ: asyncmqtype.EventRetrying, jobID: "a", state: D, detail: "boom", at: at(time.Second)}}},
		{"retry now", finish(asyncmqtype.OutcomeRetry),
			[]wantEvent{{typ: asyncmqtype.EventRetrying, jobID: "a", state: W, detail: "boom", at: at(time.Second)}}},
		{"fail", finish(asyncmqtype.OutcomeFailed),
			[]wantEvent{{typ: asyncmqtype.EventFailed, jobID: "a", state: asyncmqtype.StateFailed, detail: "boom", at: at(time.Second)}}},
		{"finish cancelled", finish(asyncmqtype.OutcomeCancelled),
			[]wantEvent{{typ: asyncmqtype.EventCancelled, jobID: "a", state: asyncmqtype.StateCancelled, at: at(time.Second)}}},
		{"promote due", func(s *bundle, mark func()) {
			s.enqueue(job("a", runAt(at(time.Minute))))
			mark()
			s.promote(at(time.Minute))
		}, []wantEvent{{typ: asyncmqtype.EventEnqueued, jobID: "a", state: W, detail: "promoted", at: at(time.Minute)}}},
		{"promote action", applyTo(asyncmqtype.ActionPromote, D),
			[]wantEvent{{typ: asyncmqtype.EventEnqueued, jobID: "a", state: W, detail: "promoted", at: at(time.Second)}}},
		{"retry action", applyTo(asyncmqtype.ActionRetry, asyncmqtype.StateFailed),
			[]wantEvent{{typ: asyncmqtype.EventEnqueued, jobID: "a", state: W, detail: "retried", at: at(time.Second)}}},
		{"cancel waiting", applyTo(asyncmqtype.ActionCancel, W),
			[]wantEvent{{typ: asyncmqtype.EventCancelled, jobID: "a", state: asyncmqtype.StateCancelled, at: at(time.Second)}}},
		{"cancel delayed", applyTo(asyncmqtype.ActionCancel, D),
			[]wantEvent{{typ: asyncmqtype.EventCancelled, jobID: "a", state: asyncmqtype.StateCancelled, at: at(time.Second)}}},
		{"cancel active", applyTo(asyncmqtype.ActionCancel, A),
			[]wantEvent{{typ: asyncmqtype.EventCancelled, jobID: "a", state: A, detail: "cancel requested", at: at(time.Second)}}},
		{"remove waiting", applyTo(asyncmqtype.ActionRemove, W),
			[]wantEvent{{typ: asyncmqtype.EventRemoved, jobID: "a", state: W, at: at(time.Second)}}},
		{"remove failed", applyTo(asyncmqtype.ActionRemove, asyncmqtype.StateFailed),
			[]wantEvent{{typ: asyncmqtype.EventRemoved, jobID: "a", state: asyncmqtype.StateFailed, at: at(time.Second)}}},
		{"remove active", applyTo(asyncmqtype.ActionRemove, A),
			[]wantEvent{{typ: asyncmqtype.EventCancelled, jobID: "a", state: A, detail: "cancel requested", at: at(time.Second)}}},
		{"release", func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			j := s.claimOne(t0, "a")
			mark()
			requireNoError(s.t, s.b.Release(s.ctx, backend.ReleaseParams{Now: at(time.Second), Leases: []backend.Lease{{JobID: "a", LeaseToken: j.LeaseToken}}}), "release")
		}, []wantEvent{{typ: asyncmqtype.EventEnqueued, jobID: "a", state: W, detail: "released", at: at(time.Second)}}},
		{"stall requeued", func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			s.claimOne(t0, "a")
			mark()
			s.recover(at(time.Minute), 1)
		}, []wantEvent{{typ: asyncmqtype.EventStalled, jobID: "a", state: W, at: at(time.Minute)}}},
		{"stall failed", func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			s.claimOne(t0, "a")
			mark()
			s.recover(at(time.Minute), 0)
		}, []wantEvent{{typ: asyncmqtype.EventFailed, jobID: "a", state: asyncmqtype.StateFailed, at: at(time.Minute)}}},
		{"progress", func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			j := s.claimOne(t0, "a")
			mark()
			requireNoError(s.t, s.b.SetProgress(s.ctx, backend.ProgressParams{
				Lease: backend.Lease{JobID: "a", LeaseToken: j.LeaseToken}, Progress: json.RawMessage(`{"pct":5}`),
			}), "set progress")
		}, []wantEvent{{typ: asyncmqtype.EventProgress, jobID: "a", state: A}}},
		{"fire repeatable", func(s *bundle, mark func()) {
			requireNoError(s.t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "default")), "upsert")
			mark()
			requireNoError(s.t, s.b.FireRepeatable(s.ctx, backend.FireParams{ID: "r", Expected: t0, Next: at(time.Hour), Job: job("a"), Now: at(time.Second)}), "fire")
		}, []wantEvent{{typ: asyncmqtype.EventEnqueued, jobID: "a", state: W, at: at(time.Second)}}},
		{"heartbeat", func(s *bundle, mark func()) {
			s.enqueue(job("a"))
			j := s.claimOne(t0, "a")
			mark()
			_, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{
				Worker: asyncmqtype.WorkerInfo{ID: "w1"}, Leases: []backend.Lease{{JobID: "a", LeaseToken: j.LeaseToken}}, LeaseDuration: lease, Now: at(time.Second),
			})
			requireNoError(s.t, err, "heartbeat")
		}, nil},
		{"pause", queueOp(func(s *bundle) { requireNoError(s.t, s.b.SetQueuePaused(s.ctx, "default", true), "pause") }),
			[]wantEvent{{typ: asyncmqtype.EventQueue, detail: "paused"}}},
		{"resume", queueOp(func(s *bundle) { requireNoError(s.t, s.b.SetQueuePaused(s.ctx, "default", false), "resume") }),
			[]wantEvent{{typ: asyncmqtype.EventQueue, detail: "resumed"}}},
		{"drain", queueOp(func(s *bundle) { _, err := s.b.Drain(s.ctx, "default", false); requireNoError(s.t, err, "drain") }),
			[]wantEvent{{typ: asyncmqtype.EventQueue, detail: "drained"}}},
		{"clean", queueOp(func(s *bundle) {
			_, err := s.b.Clean(s.ctx, backend.CleanParams{Queue: "default", State: asyncmqtype.StateCompleted})
			requireNoError(s.t, err, "clean")
		}), []wantEvent{{typ: asyncmqtype.EventQueue, detail: "cleaned"}}},
		{"clean nothing", queueOp(func(s *bundle) {
			_, err := s.b.Clean(s.ctx, backend.CleanParams{Queue: "default", State: asyncmqtype.StateFailed})
			requireNoError(s.t, err, "clean")
		}), nil},
		{"obliterate", queueOp(func(s *bundle) { requireNoError(s.t, s.b.Obliterate(s.ctx, "default", false), "obliterate") }),
			[]wantEvent{{typ: asyncmqtype.EventQueue, detail: "obliterated"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, newBackend)
			var after string
			tt.run(s, func() { after = s.lastCursor() })
			got := s.events(after)
			if len(got) != len(tt.want) {
				t.Fatalf("got events %+v, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				task := "email.send"
				if w.jobID == "" {
					task = ""
				}
				requireEqual(t, [5]string{string(g.Type), g.Queue, g.JobID, g.Task, string(g.State)},
					[5]string{string(w.typ), "default", w.jobID, task, string(w.state)}, fmt.Sprintf("event %d: type, queue, job, task, state", i))
				if w.detail != "" {
					requireEqual(t, g.Detail, w.detail, fmt.Sprintf("event %d: Detail", i))
				}
				if !w.at.IsZero() {
					requireTime(t, g.At, w.at, fmt.Sprintf("event %d: At", i))
				} else if g.At.IsZero() || g.At.Location() != time.UTC {
					t.Fatalf("event %d: At = %s, want a UTC time", i, g.At)
				}
			}
		})
	}
}

// eventIDs returns the cursors of evs, which identify events: two reads that return the same
// cursors returned the same events.
func eventIDs(evs []asyncmqtype.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Cursor
	}
	return out
}

// requireDistinctCursors fails when an event has no cursor or shares one with another.
func requireDistinctCursors(t *testing.T, evs []asyncmqtype.Event) {
	t.Helper()
	seen := make(map[string]int, len(evs))
	for i, e := range evs {
		if e.Cursor == "" {
			t.Fatalf("event %d (%s of %s) has no cursor", i, e.Type, e.JobID)
		}
		if j, dup := seen[e.Cursor]; dup {
			t.Fatalf("events %d and %d share cursor %q", j, i, e.Cursor)
		}
		seen[e.Cursor] = i
	}
}
