package backendtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testRepeatable(t *testing.T, newBackend factory) {
	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		zone := time.FixedZone("UTC-3", -3*60*60)
		full := asyncmqtype.Repeatable{
			ID: "nightly", Queue: "reports", Task: "report.build", Payload: json.RawMessage(`{"kind":"daily"}`),
			Cron: "0 3 * * *", Priority: 2, MaxRetries: 4, NextRun: at(time.Hour).In(zone),
			LastRun: at(-time.Hour).In(zone), CreatedAt: at(-24 * time.Hour).In(zone),
		}
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, full), "upsert")
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("b-hourly", "reports")), "upsert")
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("a-other", "other")), "upsert")

		got, err := s.b.GetRepeatable(s.ctx, "nightly")
		requireNoError(t, err, "get")
		requireEqual(t, [6]any{got.ID, got.Queue, got.Task, got.Cron, got.Priority, got.MaxRetries},
			[6]any{"nightly", "reports", "report.build", "0 3 * * *", 2, 4}, "fields")
		requireJSON(t, got.Payload, `{"kind":"daily"}`, "Payload")
		requireTime(t, got.NextRun, at(time.Hour), "NextRun")
		requireTime(t, got.LastRun, at(-time.Hour), "LastRun")
		requireTime(t, got.CreatedAt, at(-24*time.Hour), "CreatedAt")
		requireEqual(t, got.Paused, false, "Paused")

		all, err := s.b.Repeatables(s.ctx, "")
		requireNoError(t, err, "list all")
		requireIDs(t, repeatableIDs(all), []string{"a-other", "b-hourly", "nightly"}, "all, by queue then ID")
		some, err := s.b.Repeatables(s.ctx, "reports")
		requireNoError(t, err, "list one queue")
		requireIDs(t, repeatableIDs(some), []string{"b-hourly", "nightly"}, "one queue")
		none, err := s.b.Repeatables(s.ctx, "nope")
		requireNoError(t, err, "list unknown queue")
		requireEqual(t, len(none), 0, "repeatables of an unknown queue")

		// Replacing without a CreatedAt keeps the original one.
		repl := repeatable("nightly", "reports")
		repl.Interval, repl.Cron = 0, "30 4 * * *"
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repl), "replace")
		got, err = s.b.GetRepeatable(s.ctx, "nightly")
		requireNoError(t, err, "get")
		requireEqual(t, got.Cron, "30 4 * * *", "Cron after replace")
		requireEqual(t, len(got.Payload), 0, "Payload after replace")
		requireTime(t, got.CreatedAt, at(-24*time.Hour), "CreatedAt after replace")

		requireNoError(t, s.b.SetRepeatablePaused(s.ctx, "nightly", true), "pause")
		got, _ = s.b.GetRepeatable(s.ctx, "nightly")
		requireEqual(t, got.Paused, true, "Paused")
		requireNoError(t, s.b.SetRepeatablePaused(s.ctx, "nightly", false), "resume")
		got, _ = s.b.GetRepeatable(s.ctx, "nightly")
		requireEqual(t, got.Paused, false, "Paused after resume")

		requireNoError(t, s.b.RemoveRepeatable(s.ctx, "nightly"), "remove")
		_, err = s.b.GetRepeatable(s.ctx, "nightly")
		requireErrorIs(t, err, asyncmqtype.ErrRepeatableNotFound, "get removed")
		requireMentions(t, err, "nightly")
		requireErrorIs(t, s.b.RemoveRepeatable(s.ctx, "nightly"), asyncmqtype.ErrRepeatableNotFound, "remove twice")
		requireErrorIs(t, s.b.SetRepeatablePaused(s.ctx, "nightly", true), asyncmqtype.ErrRepeatableNotFound, "pause removed")
	})

	t.Run("NewGetsCreatedAt", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "q")), "upsert")
		got, err := s.b.GetRepeatable(s.ctx, "r")
		requireNoError(t, err, "get")
		if got.CreatedAt.IsZero() {
			t.Fatal("CreatedAt is zero, want the backend clock")
		}
	})

	t.Run("Due", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for _, r := range []asyncmqtype.Repeatable{
			withNextRun(repeatable("late", "q"), at(-time.Minute)),
			withNextRun(repeatable("b-now", "q"), t0),
			withNextRun(repeatable("a-now", "q2"), t0),
			withNextRun(repeatable("soon", "q"), at(time.Second)),
			withNextRun(repeatable("paused", "q"), at(-time.Hour)),
		} {
			requireNoError(t, s.b.UpsertRepeatable(s.ctx, r), "upsert "+r.ID)
		}
		requireNoError(t, s.b.SetRepeatablePaused(s.ctx, "paused", true), "pause")
		due, err := s.b.DueRepeatables(s.ctx, t0)
		requireNoError(t, err, "due")
		requireIDs(t, repeatableIDs(due), []string{"late", "a-now", "b-now"}, "due, by NextRun then ID")
	})

	t.Run("Fire", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "default")), "upsert")
		fire := func(jobID string, expected, next time.Time) error {
			return s.b.FireRepeatable(s.ctx, backend.FireParams{
				ID: "r", Expected: expected, Next: next, Job: job(jobID), Now: at(time.Second),
			})
		}
		requireNoError(t, fire("run-1", t0, at(time.Hour)), "fire")
		j := s.requireState("run-1", asyncmqtype.StateWaiting)
		requireEqual(t, j.RepeatableID, "r", "job's RepeatableID")
		r, err := s.b.GetRepeatable(s.ctx, "r")
		requireNoError(t, err, "get")
		requireTime(t, r.NextRun, at(time.Hour), "NextRun")
		requireTime(t, r.LastRun, at(time.Second), "LastRun")

		err = fire("run-2", t0, at(time.Hour))
		requireErrorIs(t, err, asyncmqtype.ErrConflict, "fire the same run again")
		s.requireGone("run-2")

		// A job that cannot be enqueued leaves the schedule where it was.
		err = fire("run-1", at(time.Hour), at(2*time.Hour))
		requireErrorIs(t, err, asyncmqtype.ErrJobExists, "fire with a taken job ID")
		r, _ = s.b.GetRepeatable(s.ctx, "r")
		requireTime(t, r.NextRun, at(time.Hour), "NextRun after a failed fire")

		requireNoError(t, s.b.SetRepeatablePaused(s.ctx, "r", true), "pause")
		requireErrorIs(t, fire("run-3", at(time.Hour), at(2*time.Hour)), asyncmqtype.ErrConflict, "fire a paused repeatable")
		s.requireGone("run-3")

		err = s.b.FireRepeatable(s.ctx, backend.FireParams{ID: "ghost", Expected: t0, Next: at(time.Hour), Job: job("x"), Now: t0})
		requireErrorIs(t, err, asyncmqtype.ErrRepeatableNotFound, "fire unknown")
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1})
	})

	t.Run("ConcurrentFireOnce", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "default")), "upsert")
		fireConcurrently(t, []backend.Store{s.b}, 8)
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1})
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for name, mod := range map[string]func(*asyncmqtype.Repeatable){
			"empty ID":            func(r *asyncmqtype.Repeatable) { r.ID = "" },
			"empty queue":         func(r *asyncmqtype.Repeatable) { r.Queue = "" },
			"empty task":          func(r *asyncmqtype.Repeatable) { r.Task = "" },
			"no schedule":         func(r *asyncmqtype.Repeatable) { r.Interval = 0 },
			"negative interval":   func(r *asyncmqtype.Repeatable) { r.Interval = -time.Second },
			"payload not JSON":    func(r *asyncmqtype.Repeatable) { r.Payload = json.RawMessage(`{`) },
			"negative MaxRetries": func(r *asyncmqtype.Repeatable) { r.MaxRetries = -1 },
			"priority above max":  func(r *asyncmqtype.Repeatable) { r.Priority = asyncmqtype.MaxPriority + 1 },
			"next run after 2262": func(r *asyncmqtype.Repeatable) { r.NextRun = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) },
		} {
			r := repeatable("r", "q")
			mod(&r)
			requireErrorIs(t, s.b.UpsertRepeatable(s.ctx, r), asyncmqtype.ErrInvalid, name)
		}
		all, err := s.b.Repeatables(s.ctx, "")
		requireNoError(t, err, "list")
		requireEqual(t, len(all), 0, "stored after invalid upserts")
		err = s.b.FireRepeatable(s.ctx, backend.FireParams{ID: "r", Expected: t0, Next: at(time.Hour), Now: t0})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "fire without a job")
	})
}

// fireConcurrently fires the repeatable "r" (due at t0, in queue "default") from n goroutines
// at once, each with its own job, and checks that exactly one firing won.
func fireConcurrently(t *testing.T, bs []backend.Store, n int) {
	t.Helper()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won       []string
		conflicts int
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("fire-%d", i)
			<-start
			err := bs[i%len(bs)].FireRepeatable(t.Context(), backend.FireParams{
				ID: "r", Expected: t0, Next: at(time.Hour), Job: job(id), Now: t0,
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, id)
			case errors.Is(err, asyncmqtype.ErrConflict):
				conflicts++
			default:
				t.Errorf("fire %s: %v", id, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || conflicts != n-1 {
		t.Fatalf("%d firings won (%v) and %d got ErrConflict, want 1 and %d", len(won), won, conflicts, n-1)
	}
	for _, b := range bs {
		page, err := b.ListJobs(t.Context(), asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting}, Limit: 100})
		requireNoError(t, err, "list jobs")
		requireIDs(t, ids(page.Jobs), won, "jobs created by the firings")
	}
}

func withNextRun(r asyncmqtype.Repeatable, next time.Time) asyncmqtype.Repeatable {
	r.NextRun = next
	return r
}

func repeatableIDs(rs []asyncmqtype.Repeatable) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
