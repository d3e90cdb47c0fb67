package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func testListing(t *testing.T, newBackend factory) {
	waiting := asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting}

	t.Run("Pagination", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		// IDs sort the other way from CreatedAt, so a store that orders by ID is caught.
		for i := range 25 {
			s.enqueue(job(fmt.Sprintf("job-%02d", 24-i), createdAt(at(time.Duration(i)*time.Second))))
		}
		want := func(from, to int) []string { // by creation index, inclusive, in the given direction
			var out []string
			for i := from; ; {
				out = append(out, fmt.Sprintf("job-%02d", 24-i))
				if i == to {
					return out
				}
				if from < to {
					i++
				} else {
					i--
				}
			}
		}
		tests := []struct {
			name   string
			sort   asyncmqtype.Sort
			offset int
			limit  int
			want   []string
		}{
			{"newest first page", asyncmqtype.SortNewest, 0, 10, want(24, 15)},
			{"newest second page", asyncmqtype.SortNewest, 10, 10, want(14, 5)},
			{"newest last page", asyncmqtype.SortNewest, 20, 10, want(4, 0)},
			{"default is newest", "", 0, 3, want(24, 22)},
			{"oldest first page", asyncmqtype.SortOldest, 0, 10, want(0, 9)},
			{"oldest middle", asyncmqtype.SortOldest, 12, 3, want(12, 14)},
			{"past the end", asyncmqtype.SortNewest, 25, 10, nil},
			{"far past the end", asyncmqtype.SortOldest, 1000, 10, nil},
			{"one", asyncmqtype.SortOldest, 24, 1, want(24, 24)},
		}
		for _, tt := range tests {
			page := s.list(asyncmqtype.ListJobsParams{Filter: waiting, Sort: tt.sort, Offset: tt.offset, Limit: tt.limit})
			requireIDs(t, ids(page.Jobs), tt.want, tt.name)
			requireEqual(t, page.Total, 25, tt.name+": Total")
		}
	})

	t.Run("Brief", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("failing", withPayload(`{"n":2}`)))
		s.finishOK(t0, s.claimOne(t0, "failing"), asyncmqtype.OutcomeFailed)
		s.enqueue(
			job("plain", createdAt(at(time.Second))),
			job("rich", withTask("report.build"), withPayload(`{"n":1}`), createdAt(at(2*time.Second))),
		)
		// A brief page lists the same jobs, with the same listed fields, in every state, from
		// either end, filtered or not.
		for _, p := range []asyncmqtype.ListJobsParams{
			{Filter: waiting, Sort: asyncmqtype.SortOldest},
			{Filter: waiting, Sort: asyncmqtype.SortNewest, Offset: 1, Limit: 1},
			{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting, Text: "n"}},
			{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateFailed}},
		} {
			full := s.list(p)
			p.Brief = true
			brief := s.list(p)
			name := fmt.Sprintf("brief %+v", p)
			requireIDs(t, ids(brief.Jobs), ids(full.Jobs), name)
			requireEqual(t, brief.Total, full.Total, name+": Total")
			for i, b := range brief.Jobs {
				f := full.Jobs[i]
				requireEqual(t, [...]any{b.Queue, b.Task, b.State, b.Priority, b.Attempts, b.MaxRetries, string(b.Payload)},
					[...]any{f.Queue, f.Task, f.State, f.Priority, f.Attempts, f.MaxRetries, string(f.Payload)}, name+": "+b.ID)
				requireEqual(t, b.CreatedAt.Equal(f.CreatedAt) && b.RunAt.Equal(f.RunAt), true, name+": times of "+b.ID)
				requireEqual(t, fmt.Sprint(b.Errors), fmt.Sprint(f.Errors), name+": errors of "+b.ID)
			}
		}
		if failed := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateFailed}, Brief: true}).Jobs; len(failed) != 1 || failed[0].LastError() == nil {
			t.Fatalf("a brief page of failed jobs = %v, want job failing with its last error", failed)
		}
	})

	t.Run("TiesBreakByID", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("b"), job("c"), job("a"))
		requireIDs(t, ids(s.list(asyncmqtype.ListJobsParams{Filter: waiting, Sort: asyncmqtype.SortOldest}).Jobs), []string{"a", "b", "c"}, "oldest")
		requireIDs(t, ids(s.list(asyncmqtype.ListJobsParams{Filter: waiting, Sort: asyncmqtype.SortNewest}).Jobs), []string{"c", "b", "a"}, "newest")
	})

	// Active jobs list by CreatedAt as every state does, whatever order their leases were taken in.
	t.Run("ActiveByCreation", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("c1", createdAt(at(time.Second))), job("b2", createdAt(at(2*time.Second))), job("a3", createdAt(at(3*time.Second))))
		for i, id := range []string{"a3", "b2", "c1"} { // claimed in ID order, so leases end in that order
			s.claimOne(at(time.Duration(10+i)*time.Second), id)
		}
		active := asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateActive}
		requireIDs(t, ids(s.list(asyncmqtype.ListJobsParams{Filter: active, Sort: asyncmqtype.SortOldest}).Jobs), []string{"c1", "b2", "a3"}, "oldest")
		page := s.list(asyncmqtype.ListJobsParams{Filter: active, Sort: asyncmqtype.SortNewest, Offset: 1, Limit: 1})
		requireIDs(t, ids(page.Jobs), []string{"b2"}, "newest, second")
		requireEqual(t, page.Total, 3, "Total")
		active.ID = "1"
		requireIDs(t, ids(s.list(asyncmqtype.ListJobsParams{Filter: active}).Jobs), []string{"c1"}, "filtered by ID")
	})

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(
			job("j1", withTask("Email.Send"), withPayload(`{"to":"Bob@Example.com"}`)),
			job("j2", withTask("email.digest"), withPayload(`{"to":"alice@example.com"}`)),
			job("j3", withTask("sms.send"), withPayload(`{"text":"50% off_now"}`)),
			job("rep-ABC", withTask("report.build"), withPayload(`{"text":"50a off-now"}`)),
			job("other-queue", inQueue("q2"), withTask("email.send"), withPayload(`{"to":"bob"}`)),
		)
		tests := []struct {
			name   string
			filter asyncmqtype.JobFilter
			want   []string
		}{
			{"task ignores case", asyncmqtype.JobFilter{Task: "EMAIL"}, []string{"j1", "j2"}},
			{"task substring", asyncmqtype.JobFilter{Task: "send"}, []string{"j1", "j3"}},
			{"id substring", asyncmqtype.JobFilter{ID: "p-AB"}, []string{"rep-ABC"}},
			{"id is case-sensitive", asyncmqtype.JobFilter{ID: "rep-abc"}, nil},
			{"text ignores case", asyncmqtype.JobFilter{Text: "BOB"}, []string{"j1"}},
			{"text percent is literal", asyncmqtype.JobFilter{Text: "50%"}, []string{"j3"}},
			{"text underscore is literal", asyncmqtype.JobFilter{Text: "off_"}, []string{"j3"}},
			{"text searches the JSON", asyncmqtype.JobFilter{Text: `"to"`}, []string{"j1", "j2"}},
			{"combined", asyncmqtype.JobFilter{Task: "email", Text: "alice"}, []string{"j2"}},
			{"no match", asyncmqtype.JobFilter{Text: "zzz"}, nil},
		}
		for _, tt := range tests {
			tt.filter.Queue, tt.filter.State = "default", asyncmqtype.StateWaiting
			page := s.list(asyncmqtype.ListJobsParams{Filter: tt.filter, Sort: asyncmqtype.SortOldest})
			requireIDs(t, ids(page.Jobs), tt.want, tt.name)
			requireEqual(t, page.Total, len(tt.want), tt.name+": Total")
		}

		page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting, Text: "o"}, Sort: asyncmqtype.SortNewest, Offset: 1, Limit: 2})
		requireIDs(t, ids(page.Jobs), []string{"j3", "j2"}, "filtered page")
		requireEqual(t, page.Total, 4, "filtered Total")
	})

	t.Run("OneStateAtATime", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"), job("b"), job("d", runAt(at(time.Hour))))
		s.claimOne(t0, "a")
		for st, want := range map[asyncmqtype.State][]string{
			asyncmqtype.StateWaiting:   {"b"},
			asyncmqtype.StateActive:    {"a"},
			asyncmqtype.StateDelayed:   {"d"},
			asyncmqtype.StateCompleted: nil,
		} {
			page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: st}})
			requireIDs(t, ids(page.Jobs), want, string(st))
		}
		active := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateActive}}).Jobs[0]
		requireEqual(t, active.LeaseToken, s.get("a").LeaseToken, "listed job's LeaseToken")
		requireEqual(t, active.Attempts, 1, "listed job's Attempts")
	})

	t.Run("UnknownQueue", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "nope", State: asyncmqtype.StateWaiting}})
		requireEqual(t, [2]int{len(page.Jobs), page.Total}, [2]int{0, 0}, "jobs and Total")
	})

	t.Run("ReturnsCopies", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		page := s.list(asyncmqtype.ListJobsParams{Filter: waiting})
		page.Jobs[0].Task = "changed"
		page.Jobs[0].Payload[1] = 'X'
		j := s.get("a")
		requireEqual(t, j.Task, "email.send", "Task")
		requireJSON(t, j.Payload, `{"n":1}`, "Payload")
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		tests := []struct {
			name string
			p    asyncmqtype.ListJobsParams
		}{
			{"no queue", asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{State: asyncmqtype.StateWaiting}, Limit: 10}},
			{"no state", asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default"}, Limit: 10}},
			{"unknown state", asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: "stuck"}, Limit: 10}},
			{"unknown sort", asyncmqtype.ListJobsParams{Filter: waiting, Sort: "random", Limit: 10}},
			{"zero limit", asyncmqtype.ListJobsParams{Filter: waiting}},
			{"limit above 1000", asyncmqtype.ListJobsParams{Filter: waiting, Limit: 1001}},
			{"negative offset", asyncmqtype.ListJobsParams{Filter: waiting, Offset: -1, Limit: 10}},
		}
		for _, tt := range tests {
			_, err := s.b.ListJobs(s.ctx, tt.p)
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, tt.name)
		}
	})
}
