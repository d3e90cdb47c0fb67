package backendtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testEnqueue(t *testing.T, newBackend factory) {
	t.Run("StateFromRunAt", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name      string
			runAt     time.Time
			wantState asyncmqtype.State
			wantRunAt time.Time
		}{
			{"zero runs now", time.Time{}, asyncmqtype.StateWaiting, t0},
			{"now", t0, asyncmqtype.StateWaiting, t0},
			{"past", at(-time.Minute), asyncmqtype.StateWaiting, at(-time.Minute)},
			{"future is delayed", at(time.Minute), asyncmqtype.StateDelayed, at(time.Minute)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("a", runAt(tt.runAt)))
				j := s.requireState("a", tt.wantState)
				requireTime(t, j.RunAt, tt.wantRunAt, "RunAt")
				requireTime(t, j.CreatedAt, t0, "CreatedAt defaults to Now")
				requireEqual(t, j.PendingDeps, 0, "PendingDeps")
				s.requireCounts("default", counts{tt.wantState: 1})
			})
		}
	})

	t.Run("FreshIDsStoreTheSame", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		// The same jobs twice: with IDs a caller chose, and as FreshIDs, which a store may store
		// without looking for a job of the same ID. Nothing a reader sees may differ. 300 jobs
		// make more events than a store may keep in one record.
		batch := func(prefix, queue string) []*asyncmqtype.JobInfo {
			jobs := []*asyncmqtype.JobInfo{
				job(prefix+"rich", inQueue(queue), runAt(at(-time.Minute)), createdAt(at(-time.Hour)),
					withPriority(-7), withTask("Mail.Send"), withPayload(`{"a":[1,2.5]}`),
					withHeaders(map[string]string{"trace": "x1"}), func(j *asyncmqtype.JobInfo) {
						j.Backoff = asyncmqtype.Backoff{Kind: asyncmqtype.BackoffFixed, Base: time.Second}
						j.Timeout = 9 * time.Second
						j.RepeatableID = "rep-1"
						j.OnParentFailure = asyncmqtype.ParentFailureWait
						j.UniqueUntil = at(time.Hour)
					}),
				job(prefix+"high", inQueue(queue), runAt(t0), createdAt(t0), withPriority(9)),
			}
			for i := range 298 {
				jobs = append(jobs, job(fmt.Sprintf("%sn%03d", prefix, i), inQueue(queue), runAt(t0),
					createdAt(at(time.Duration(i)*time.Millisecond)), withPriority(i%3)))
			}
			return jobs
		}
		requireNoError(t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: batch("c-", "checked"), Now: t0}), "enqueue checked")
		requireNoError(t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: batch("f-", "fresh"), Now: t0, FreshIDs: true}), "enqueue fresh")

		for _, id := range []string{"rich", "high", "n000", "n297"} {
			c, f := s.get("c-"+id), s.get("f-"+id)
			c.ID, c.Queue, f.ID, f.Queue = "", "", "", ""
			requireEqual(t, f, c, "job "+id)
		}
		s.requireCounts("fresh", counts{asyncmqtype.StateWaiting: 300})
		queues, err := s.b.Queues(s.ctx)
		requireNoError(t, err, "list queues")
		if !slices.ContainsFunc(queues, func(q asyncmqtype.QueueInfo) bool { return q.Name == "fresh" }) {
			t.Fatalf("queues %+v: no queue fresh", queues)
		}
		suffixes := func(prefix string, ids []string) []string {
			out := make([]string, len(ids))
			for i, id := range ids {
				out[i] = strings.TrimPrefix(id, prefix)
			}
			return out
		}
		page := func(q string) []string {
			p := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: q, State: asyncmqtype.StateWaiting}, Limit: 1000})
			return suffixes(q[:1]+"-", ids(p.Jobs))
		}
		requireEqual(t, page("fresh"), page("checked"), "waiting jobs listed")

		type ev struct {
			typ      asyncmqtype.EventType
			id, task string
			state    asyncmqtype.State
			at       time.Time
			detail   string
		}
		evs := map[string][]ev{}
		for _, e := range s.events("") {
			evs[e.Queue] = append(evs[e.Queue], ev{e.Type, e.JobID[2:], e.Task, e.State, e.At, e.Detail})
		}
		requireEqual(t, len(evs["fresh"]), 300, "events of the fresh jobs")
		requireEqual(t, len(evs["checked"]), 300, "events of the checked jobs")
		for i, e := range evs["fresh"] {
			requireEqual(t, e, evs["checked"][i], fmt.Sprintf("event %d", i))
		}

		claimed := func(q string) []string {
			var out []string
			for {
				jobs := s.claim(t0, 64, q)
				if len(jobs) == 0 {
					return out
				}
				out = append(out, suffixes(q[:1]+"-", ids(jobs))...)
			}
		}
		got := claimed("fresh")
		requireEqual(t, len(got), 300, "fresh jobs claimed")
		requireEqual(t, got, claimed("checked"), "claim order")
	})

	t.Run("FreshIDsInManyQueuesAtOnce", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		// Producers of different queues at the same moment: a store that groups concurrent
		// calls must keep each queue's writes apart where its server requires it (one slot per
		// transaction on Redis Cluster).
		const queues, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, queues*each)
		for g := range queues {
			wg.Go(func() {
				for i := range each {
					j := job(fmt.Sprintf("q%d-%02d", g, i), inQueue(fmt.Sprintf("many-%d", g)), runAt(t0), createdAt(t0))
					errs <- s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: t0, FreshIDs: true})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			requireNoError(t, err, "enqueue")
		}
		for g := range queues {
			s.requireCounts(fmt.Sprintf("many-%d", g), counts{asyncmqtype.StateWaiting: each})
		}
	})

	t.Run("FreshIDsFoundByIDAndNeverTakenTwice", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		// IDs as asyncmq.NewID makes them, which a store may leave out of an index of IDs as
		// long as it still finds them by ID and refuses them to a caller who chooses one again.
		fresh := make([]*asyncmqtype.JobInfo, 300)
		for i := range fresh {
			fresh[i] = job(sealedID(), inQueue("sa"), runAt(t0), createdAt(t0))
		}
		other := job(sealedID(), inQueue("sb"), runAt(t0), createdAt(t0))
		requireNoError(t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: fresh, Now: t0, FreshIDs: true}), "enqueue fresh jobs")
		requireNoError(t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{other}, Now: t0, FreshIDs: true}), "enqueue a fresh job in another queue")
		for _, j := range []*asyncmqtype.JobInfo{fresh[0], fresh[299], other} {
			if got := s.requireState(j.ID, asyncmqtype.StateWaiting); got.Queue != j.Queue {
				t.Fatalf("job %s found in queue %q, want %q", j.ID, got.Queue, j.Queue)
			}
		}
		s.requireGone(sealedID())

		// A caller choosing one of those IDs, in any queue, alone or beside a new ID, is refused
		// and stores nothing.
		again := func(id, queue string) error {
			return s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0, Jobs: []*asyncmqtype.JobInfo{
				job(id, inQueue(queue), runAt(t0), createdAt(t0))}})
		}
		requireErrorIs(t, again(fresh[7].ID, "sc"), asyncmqtype.ErrJobExists, "enqueue a fresh job's ID in a new queue")
		requireErrorIs(t, again(fresh[7].ID, "sa"), asyncmqtype.ErrJobExists, "enqueue a fresh job's ID in its queue")
		requireErrorIs(t, again(other.ID, "sa"), asyncmqtype.ErrJobExists, "enqueue a fresh job's ID in another used queue")
		newID := sealedID()
		err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0, Jobs: []*asyncmqtype.JobInfo{
			job(newID, inQueue("sc"), runAt(t0), createdAt(t0)), job(fresh[8].ID, inQueue("sc"), runAt(t0), createdAt(t0))}})
		requireErrorIs(t, err, asyncmqtype.ErrJobExists, "enqueue a new ID beside a fresh job's ID")
		s.requireGone(newID)
		s.requireCounts("sa", counts{asyncmqtype.StateWaiting: 300})

		// Bulk actions by ID reach them, in both queues at once.
		n := s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{fresh[1].ID, other.ID, sealedID()}})
		requireEqual(t, n, 2, "jobs cancelled by ID")
		s.requireState(fresh[1].ID, asyncmqtype.StateCancelled)
		s.requireState(other.ID, asyncmqtype.StateCancelled)

		// Once its job is removed, an ID may be chosen again, and is then found in its new queue.
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: []string{fresh[2].ID}}), 1, "jobs removed by ID")
		s.requireGone(fresh[2].ID)
		requireNoError(t, again(fresh[2].ID, "sc"), "enqueue a removed fresh job's ID")
		if got := s.requireState(fresh[2].ID, asyncmqtype.StateWaiting); got.Queue != "sc" {
			t.Fatalf("job %s found in queue %q, want sc", fresh[2].ID, got.Queue)
		}
	})

	t.Run("FreshIDsKeepTheOtherChecks", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		fresh := func(j *asyncmqtype.JobInfo) error {
			return s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: t0, FreshIDs: true})
		}
		requireNoError(t, fresh(job("later", runAt(at(time.Minute)), createdAt(t0))), "enqueue a delayed job")
		s.requireState("later", asyncmqtype.StateDelayed)
		requireNoError(t, fresh(job("u1", runAt(t0), createdAt(t0), unique("k", at(time.Hour)))), "enqueue a unique job")
		requireErrorIs(t, fresh(job("u2", runAt(t0), createdAt(t0), unique("k", at(time.Hour)))), asyncmqtype.ErrDuplicateJob, "enqueue a duplicate")
		requireErrorIs(t, fresh(job("child", runAt(t0), createdAt(t0), dependsOn("missing"))), asyncmqtype.ErrJobNotFound, "enqueue a child of a missing parent")
		requireNoError(t, fresh(job("child", runAt(t0), createdAt(t0), dependsOn("u1"))), "enqueue a child")
		s.requireState("child", asyncmqtype.StateWaitingChildren)
		s.requireCounts("default", counts{asyncmqtype.StateDelayed: 1, asyncmqtype.StateWaiting: 1, asyncmqtype.StateWaitingChildren: 1})
	})

	t.Run("KeepsGivenCreatedAt", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a", createdAt(at(-time.Hour))))
		requireTime(t, s.get("a").CreatedAt, at(-time.Hour), "CreatedAt")
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("parent"))
		s.complete(t0, "parent")

		// Times in another zone must come back as the same instants in UTC.
		zone := time.FixedZone("UTC+5", 5*60*60)
		in := &asyncmqtype.JobInfo{
			ID:           "full",
			Queue:        "default",
			Task:         "Mail.Send",
			Payload:      json.RawMessage(`{"to":"a@example.com","n":[1,2.5],"nested":{"ok":true}}`),
			Priority:     3,
			MaxRetries:   4,
			Backoff:      asyncmqtype.Backoff{Kind: asyncmqtype.BackoffFixed, Base: 2 * time.Second, Max: time.Hour, Jitter: 0.25},
			Timeout:      90 * time.Second,
			RunAt:        at(time.Second).In(zone),
			CreatedAt:    at(-time.Second).In(zone),
			UniqueKey:    "mail:a",
			UniqueUntil:  at(time.Hour).In(zone),
			DependsOn:    []string{"parent"},
			RepeatableID: "rep-1",
			// The parent completed, so the policy never applies; it is stored all the same.
			OnParentFailure: asyncmqtype.ParentFailureCancel,
		}
		s.enqueueAt(at(time.Second), in)

		claimed := s.claimOne(at(2*time.Second), "full")
		err := s.b.SetProgress(s.ctx, backend.ProgressParams{
			Lease:    backend.Lease{JobID: "full", LeaseToken: claimed.LeaseToken},
			Progress: json.RawMessage(`{"pct":50}`),
		})
		requireNoError(t, err, "set progress")
		s.finishOK(at(3*time.Second), claimed, asyncmqtype.OutcomeRetry, func(f *backend.Finish) {
			f.Error = &asyncmqtype.AttemptError{
				Error: "boom", Stack: "goroutine 1 [running]:\nmain.main()\n\tmain.go:3", Panic: true,
				At: at(3 * time.Second).In(zone),
			}
			f.RetryDelay = 57 * time.Second // due at(time.Minute)
		})
		requireEqual(t, s.promote(at(time.Minute)), 1, "promoted")
		second := s.claimOne(at(time.Minute+time.Second), "full")
		s.finishOK(at(time.Minute+5*time.Second), second, asyncmqtype.OutcomeCompleted, func(f *backend.Finish) {
			f.Result = json.RawMessage(`{"sent":true,"ids":["m1"]}`)
		})

		j := s.get("full")
		requireEqual(t, j.ID, "full", "ID")
		requireEqual(t, j.Queue, "default", "Queue")
		requireEqual(t, j.Task, "Mail.Send", "Task")
		requireJSON(t, j.Payload, `{"to":"a@example.com","n":[1,2.5],"nested":{"ok":true}}`, "Payload")
		requireEqual(t, j.State, asyncmqtype.StateCompleted, "State")
		requireEqual(t, j.Priority, 3, "Priority")
		requireEqual(t, j.Attempts, 2, "Attempts")
		requireEqual(t, j.MaxRetries, 4, "MaxRetries")
		requireEqual(t, j.Backoff, in.Backoff, "Backoff")
		requireEqual(t, j.Timeout, 90*time.Second, "Timeout")
		requireTime(t, j.RunAt, at(time.Minute), "RunAt (set by the retry)")
		requireTime(t, j.CreatedAt, at(-time.Second), "CreatedAt")
		requireTime(t, j.StartedAt, at(time.Minute+time.Second), "StartedAt")
		requireTime(t, j.FinishedAt, at(time.Minute+5*time.Second), "FinishedAt")
		requireJSON(t, j.Result, `{"sent":true,"ids":["m1"]}`, "Result")
		requireJSON(t, j.Progress, `{"pct":50}`, "Progress")
		if len(j.Errors) != 1 {
			t.Fatalf("Errors = %+v, want one", j.Errors)
		}
		e := j.Errors[0]
		requireEqual(t, e.Attempt, 1, "Errors[0].Attempt")
		requireTime(t, e.At, at(3*time.Second), "Errors[0].At")
		requireEqual(t, e.Error, "boom", "Errors[0].Error")
		requireEqual(t, e.Stack, "goroutine 1 [running]:\nmain.main()\n\tmain.go:3", "Errors[0].Stack")
		requireEqual(t, e.Panic, true, "Errors[0].Panic")
		requireEqual(t, j.LastError().Error, "boom", "LastError")
		requireEqual(t, j.WorkerID, "w1", "WorkerID")
		requireEqual(t, j.LeaseToken, "", "LeaseToken after finishing")
		requireTime(t, j.LeaseExpiresAt, time.Time{}, "LeaseExpiresAt after finishing")
		requireEqual(t, j.Stalls, 0, "Stalls")
		requireEqual(t, j.UniqueKey, "mail:a", "UniqueKey")
		requireTime(t, j.UniqueUntil, at(time.Hour), "UniqueUntil")
		requireEqual(t, j.DependsOn, []string{"parent"}, "DependsOn")
		requireEqual(t, j.PendingDeps, 0, "PendingDeps")
		requireEqual(t, j.OnParentFailure, asyncmqtype.ParentFailureCancel, "OnParentFailure")
		requireEqual(t, j.CancelRequested, false, "CancelRequested")
		requireEqual(t, j.RepeatableID, "rep-1", "RepeatableID")
	})

	t.Run("ErrJobExists", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			batch []*asyncmqtype.JobInfo
		}{
			{"stored ID", []*asyncmqtype.JobInfo{job("new-1"), job("taken-1", withTask("other"))}},
			{"twice in one call", []*asyncmqtype.JobInfo{job("new-1"), job("new-1")}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				s.enqueue(job("taken-1"))
				err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: tt.batch, Now: t0})
				requireErrorIs(t, err, asyncmqtype.ErrJobExists, "enqueue")
				requireMentions(t, err, tt.batch[1].ID)
				s.requireGone("new-1")
				requireEqual(t, s.get("taken-1").Task, "email.send", "stored job's task")
				s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1})
			})
		}
	})

	// Many producers enqueueing one ID at the same moment: a store that batches concurrent calls
	// must still give every call after the first the same ErrJobExists as a later call gets. Many
	// IDs race at once so that a store's batches hold the first call of some ID with later ones.
	t.Run("ConcurrentSameID", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		const ids, callers = 16, 16
		errs := make([][]error, ids)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range ids {
			errs[i] = make([]error, callers)
			for c := range callers {
				wg.Go(func() {
					<-start
					j := job(fmt.Sprintf("same-%d", i), withTask(fmt.Sprintf("task-%d", c)))
					errs[i][c] = s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: t0})
				})
			}
		}
		close(start)
		wg.Wait()
		for i := range ids {
			id, winner := fmt.Sprintf("same-%d", i), -1
			for c, err := range errs[i] {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("callers %d and %d were both told job %s was stored", winner, c, id)
				case err == nil:
					winner = c
				case !errors.Is(err, asyncmqtype.ErrJobExists):
					t.Fatalf("caller %d of job %s: %v, want nil or ErrJobExists", c, id, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no caller stored job %s", id)
			}
			requireEqual(t, s.get(id).Task, fmt.Sprintf("task-%d", winner), "stored job's task (the accepted caller's)")
		}
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: ids})
		requireEqual(t, len(s.claim(t0, ids*callers)), ids, "jobs claimable")
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			batch []*asyncmqtype.JobInfo
			want  error
		}{
			{"duplicate ID", []*asyncmqtype.JobInfo{job("a"), job("b"), job("a")}, asyncmqtype.ErrJobExists},
			{"unknown parent", []*asyncmqtype.JobInfo{job("a"), job("b", dependsOn("ghost"))}, asyncmqtype.ErrJobNotFound},
			{"duplicate unique key", []*asyncmqtype.JobInfo{job("a", unique("k", time.Time{})), job("b", unique("k", time.Time{}))}, asyncmqtype.ErrDuplicateJob},
			{"invalid job last", []*asyncmqtype.JobInfo{job("a"), job("b"), job("c", withTask(""))}, asyncmqtype.ErrInvalid},
			{"nil job", []*asyncmqtype.JobInfo{job("a"), nil}, asyncmqtype.ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: tt.batch, Now: t0})
				requireErrorIs(t, err, tt.want, "enqueue")
				s.requireGone("a")
				s.requireGone("b")
				qs, err := s.b.Queues(s.ctx)
				requireNoError(t, err, "list queues")
				requireEqual(t, len(qs), 0, "queues after a failed enqueue")
				requireEqual(t, s.lastCursor(), "", "events after a failed enqueue")
			})
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			job  *asyncmqtype.JobInfo
		}{
			{"nil", nil},
			{"empty ID", job("")},
			{"empty queue", job("a", inQueue(""))},
			{"empty task", job("a", withTask(""))},
			{"negative max retries", job("a", func(j *asyncmqtype.JobInfo) { j.MaxRetries = -1 })},
			{"payload not JSON", job("a", withPayload(`{"a":`))},
			{"depends on itself", job("a", dependsOn("a"))},
			{"unknown parent-failure policy", job("a", onParentFailure("ignore"))},
			{"priority above max", job("a", withPriority(asyncmqtype.MaxPriority+1))},
			{"priority below min", job("a", withPriority(asyncmqtype.MinPriority-1))},
			{"run at after 2262", job("a", runAt(time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)))},
			{"unique until after 2262", job("a", unique("k", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)))},
			{"created before 1677", job("a", createdAt(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)))},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{tt.job}, Now: t0})
				requireErrorIs(t, err, asyncmqtype.ErrInvalid, "enqueue")
				s.requireGone("a")
			})
		}
	})

	t.Run("EmptyCall", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireNoError(t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0}), "enqueue nothing")
		requireEqual(t, s.lastCursor(), "", "events")
	})

	t.Run("GetUnknownJob", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		_, err := s.b.GetJob(s.ctx, "ghost")
		requireErrorIs(t, err, asyncmqtype.ErrJobNotFound, "get job")
		requireMentions(t, err, "ghost")
	})

	t.Run("CopiesInAndOut", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		in := job("a", withPayload(`{"n":1}`), dependsOn("p"))
		s.enqueue(in)
		// Enqueue reports the state it stored and sets no other field of the caller's job.
		requireEqual(t, in.State, asyncmqtype.StateWaitingChildren, "caller's job State")
		requireEqual(t, in.PendingDeps, 1, "caller's job PendingDeps")
		requireEqual(t, in.CreatedAt, time.Time{}, "caller's job CreatedAt (Enqueue must not modify it)")
		requireEqual(t, in.RunAt, time.Time{}, "caller's job RunAt (Enqueue must not modify it)")
		in.Payload[1] = 'X'
		in.Task = "changed"
		in.DependsOn[0] = "changed"
		in.State = asyncmqtype.StateFailed

		out := s.get("a")
		out.Payload[1] = 'Y'
		out.DependsOn[0] = "changed"
		out.State = asyncmqtype.StateFailed

		j := s.get("a")
		requireJSON(t, j.Payload, `{"n":1}`, "Payload")
		requireEqual(t, j.Task, "email.send", "Task")
		requireEqual(t, j.DependsOn, []string{"p"}, "DependsOn")
		requireEqual(t, j.State, asyncmqtype.StateWaitingChildren, "State")
	})

	t.Run("UniqueKey", func(t *testing.T) { testUniqueKey(t, newBackend) })
	t.Run("Dependencies", func(t *testing.T) { testDependencies(t, newBackend) })
}

func testUniqueKey(t *testing.T, newBackend factory) {
	t.Parallel()
	dup := func(s *bundle, now time.Time, j *asyncmqtype.JobInfo) {
		s.t.Helper()
		err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: now})
		requireErrorIs(s.t, err, asyncmqtype.ErrDuplicateJob, "enqueue "+j.ID)
		s.requireGone(j.ID)
	}

	t.Run("HeldUntilUniqueUntil", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a", unique("k", at(10*time.Minute))))
		dup(s, at(5*time.Minute), job("b", unique("k", at(20*time.Minute))))
		s.enqueueAt(at(5*time.Minute), job("other-queue", inQueue("q2"), unique("k", at(20*time.Minute))))
		s.enqueueAt(at(5*time.Minute), job("other-key", unique("k2", at(20*time.Minute))))
		// At UniqueUntil the key is free again, though a is still waiting.
		s.enqueueAt(at(10*time.Minute), job("c", unique("k", at(20*time.Minute))))
		s.requireState("a", asyncmqtype.StateWaiting)
		dup(s, at(15*time.Minute), job("d", unique("k", at(30*time.Minute))))
	})

	t.Run("HeldPastCompletionUntilUniqueUntil", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a", unique("k", at(10*time.Minute))))
		s.complete(t0, "a")
		dup(s, at(time.Minute), job("b", unique("k", at(20*time.Minute))))
	})

	t.Run("ZeroUntilHeldWhileNotTerminal", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a", unique("k", time.Time{})))
		dup(s, at(time.Hour), job("b", unique("k", time.Time{})))
		j := s.claimOne(at(time.Hour), "a")
		dup(s, at(time.Hour), job("b", unique("k", time.Time{})))
		s.finishOK(at(time.Hour), j, asyncmqtype.OutcomeFailed)
		s.enqueueAt(at(time.Hour), job("b", unique("k", time.Time{})))
	})

	t.Run("RemovedJobFreesKey", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a", unique("k", at(time.Hour))))
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: []string{"a"}}), 1, "removed")
		s.enqueue(job("b", unique("k", at(time.Hour))))
	})

	t.Run("SameCall", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0, Jobs: []*asyncmqtype.JobInfo{
			job("a", unique("k", at(time.Hour))), job("b", unique("k", at(time.Hour))),
		}})
		requireErrorIs(t, err, asyncmqtype.ErrDuplicateJob, "enqueue")
		s.requireGone("a")
	})
}

func testDependencies(t *testing.T, newBackend factory) {
	t.Parallel()

	t.Run("UnknownParent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0, Jobs: []*asyncmqtype.JobInfo{job("c", dependsOn("p", "ghost-parent"))}})
		requireErrorIs(t, err, asyncmqtype.ErrJobNotFound, "enqueue")
		requireMentions(t, err, "ghost-parent")
		s.requireGone("c")
	})

	t.Run("WaitsForEveryParent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p1", withPriority(1)), job("p2", withPriority(2)))
		s.enqueue(job("c", withPriority(0), dependsOn("p1", "p2")))
		c := s.requireState("c", asyncmqtype.StateWaitingChildren)
		requireEqual(t, c.PendingDeps, 2, "PendingDeps")

		jobs := s.claim(t0, 10)
		requireIDs(t, ids(jobs), []string{"p1", "p2"}, "claimed (the child must wait)")
		s.finishOK(at(time.Second), jobs[0], asyncmqtype.OutcomeCompleted)
		requireEqual(t, s.requireState("c", asyncmqtype.StateWaitingChildren).PendingDeps, 1, "PendingDeps after one parent completed")
		requireEqual(t, len(s.claim(at(time.Second), 10)), 0, "claimable with one parent left")

		s.finishOK(at(2*time.Second), jobs[1], asyncmqtype.OutcomeCompleted)
		requireEqual(t, s.requireState("c", asyncmqtype.StateWaiting).PendingDeps, 0, "PendingDeps after both parents completed")
		s.claimOne(at(2*time.Second), "c")
	})

	t.Run("FailedParentBlocksWaitingChild", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", dependsOn("p"), onParentFailure(asyncmqtype.ParentFailureWait)))
		s.finishOK(t0, s.claimOne(t0, "p"), asyncmqtype.OutcomeFailed)
		requireEqual(t, len(s.claim(t0, 10)), 0, "claimable after the parent failed")
		requireEqual(t, s.get("c").PendingDeps, 1, "PendingDeps")

		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"p"}}), 1, "retried")
		s.complete(at(time.Second), "p")
		s.claimOne(at(time.Second), "c")
	})

	t.Run("CompletedParent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.complete(t0, "p")
		s.enqueue(job("c", dependsOn("p")))
		requireEqual(t, s.get("c").PendingDeps, 0, "PendingDeps")
		s.claimOne(t0, "c")
	})

	t.Run("ParentLaterInSameCall", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("c", withPriority(0), dependsOn("p")), job("p"))
		requireEqual(t, s.get("c").PendingDeps, 1, "PendingDeps")
		s.complete(t0, "p")
		s.claimOne(t0, "c")
	})

	t.Run("SameParentTwice", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		c := job("c", dependsOn("p", "p"))
		s.enqueue(c)
		requireEqual(t, c.PendingDeps, 1, "PendingDeps reported by Enqueue")
		requireEqual(t, s.get("c").PendingDeps, 1, "PendingDeps")
		s.complete(t0, "p")
		s.claimOne(t0, "c")
	})

	t.Run("DelayedChild", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("p"))
		s.enqueue(job("c", runAt(at(time.Minute)), dependsOn("p")))
		s.requireState("c", asyncmqtype.StateWaitingChildren)
		requireEqual(t, s.promote(at(time.Minute)), 0, "promoted")
		requireIDs(t, ids(s.claim(at(time.Minute), 10)), []string{"p"}, "claimed")
		s.requireCounts("default", counts{asyncmqtype.StateWaitingChildren: 1, asyncmqtype.StateActive: 1})
	})

	t.Run("Cycle", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0, Jobs: []*asyncmqtype.JobInfo{
			job("a", dependsOn("c")), job("b", dependsOn("a")), job("c", dependsOn("b")),
		}})
		requireErrorIs(t, err, asyncmqtype.ErrInvalid, "enqueue a cycle")
		s.requireGone("a")
	})
}
