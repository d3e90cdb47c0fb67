package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// listFixture fills queue "b" with jobs in every state, with CreatedAt ties so that the ID
// decides, and puts queues "a" and "c" on either side of it in the listing index.
func listFixture(t *testing.T) *bundle {
	t.Helper()
	s := setup(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var jobs []*asyncmqtype.JobInfo
	for i, k := range rng.Perm(60) {
		j := newJob(fmt.Sprintf("b-%03d", k), "b")
		j.CreatedAt = t0.Add(time.Duration(i/3) * time.Second)
		if i%7 == 0 {
			j.RunAt = t0.Add(time.Hour)
		}
		jobs = append(jobs, j)
	}
	// Jobs waiting for a delayed parent stay waiting-children whatever the claims do.
	for i := range 8 {
		j := newJob(fmt.Sprintf("b-w%02d", i), "b")
		j.CreatedAt = t0.Add(time.Duration(i*2) * time.Second)
		j.DependsOn = []string{jobs[0].ID}
		jobs = append(jobs, j)
	}
	for _, q := range []string{"a", "c"} {
		for i := range 10 {
			jobs = append(jobs, newJob(fmt.Sprintf("%s-%03d", q, i), q))
		}
	}
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: t0}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"a", "b", "c"} {
		claimed := s.claim(t0, 30, q)
		n := len(claimed)
		s.finishAll(t0, claimed[:n/3], asyncmqtype.OutcomeCompleted)
		s.finishAll(t0, claimed[n/3:n/2], asyncmqtype.OutcomeFailed)
		s.finishAll(t0, claimed[n/2:n*2/3], asyncmqtype.OutcomeCancelled)
	}
	return s
}

// reference lists a queue's jobs of one state in the given order by reading the whole table.
func (s *bundle) reference(queue string, state asyncmqtype.State, sort asyncmqtype.Sort) []string {
	s.t.Helper()
	rows, err := s.b.r.QueryContext(s.ctx, `SELECT id, created_at FROM asyncmq_jobs WHERE queue = ? AND state = ?`, queue, string(state))
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		id string
		at int64
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.at); err != nil {
			s.t.Fatal(err)
		}
		all = append(all, r)
	}
	slices.SortFunc(all, func(x, y row) int {
		c := cmp.Or(cmp.Compare(x.at, y.at), strings.Compare(x.id, y.id))
		if sort == asyncmqtype.SortNewest {
			return -c
		}
		return c
	})
	ids := make([]string, len(all))
	for i, r := range all {
		ids[i] = r.id
	}
	return ids
}

// TestListJobsPages compares every page of every state, in both orders and several sizes,
// with a sort of the whole table: whichever end planPage reads from, the page is the same.
func TestListJobsPages(t *testing.T) {
	t.Parallel()
	s := listFixture(t)
	for _, state := range asyncmqtype.States {
		for _, sort := range []asyncmqtype.Sort{asyncmqtype.SortNewest, asyncmqtype.SortOldest} {
			want := s.reference("b", state, sort)
			if len(want) == 0 {
				t.Fatalf("fixture has no %s jobs", state)
			}
			for _, limit := range []int{1, 4, 7} {
				for offset := 0; offset <= len(want)+1; offset++ {
					page, err := s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{
						Filter: asyncmqtype.JobFilter{Queue: "b", State: state}, Sort: sort, Offset: offset, Limit: limit,
					})
					if err != nil {
						t.Fatal(err)
					}
					got := make([]string, len(page.Jobs))
					for i, j := range page.Jobs {
						got[i] = j.ID
					}
					w := want[min(offset, len(want)):min(offset+limit, len(want))]
					if !slices.Equal(got, w) || page.Total != len(want) {
						t.Fatalf("%s %s offset %d limit %d: got %v (total %d), want %v (total %d)",
							state, sort, offset, limit, got, page.Total, w, len(want))
					}
				}
			}
		}
	}
}

func TestListJobsFilters(t *testing.T) {
	t.Parallel()
	s := setup(t)
	payloads := []string{`{"to":"Alice@Example.com"}`, `{"to":"bob"}`, `{"note":"100% off_sale"}`, `{"path":"C:\\dir"}`}
	tasks := []string{"Email.Send", "email.send", "report.build", "x_y"}
	var jobs []*asyncmqtype.JobInfo
	for i := range payloads {
		j := newJob(fmt.Sprintf("job-%d", i), "q")
		j.Payload, j.Task = []byte(payloads[i]), tasks[i]
		jobs = append(jobs, j)
	}
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: t0}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter asyncmqtype.JobFilter
		want   []string
	}{
		{"task folds case", asyncmqtype.JobFilter{Task: "EMAIL"}, []string{"job-0", "job-1"}},
		{"text folds case", asyncmqtype.JobFilter{Text: "alice@example"}, []string{"job-0"}},
		{"percent is literal", asyncmqtype.JobFilter{Text: "100%"}, []string{"job-2"}},
		{"underscore is literal", asyncmqtype.JobFilter{Task: "x_"}, []string{"job-3"}},
		{"underscore does not match any", asyncmqtype.JobFilter{Text: "off_s"}, []string{"job-2"}},
		{"backslash is literal", asyncmqtype.JobFilter{Text: `C:\\dir`}, []string{"job-3"}},
		{"id substring", asyncmqtype.JobFilter{ID: "b-1"}, []string{"job-1"}},
		{"id is case sensitive", asyncmqtype.JobFilter{ID: "JOB"}, nil},
		{"filters combine", asyncmqtype.JobFilter{Task: "email", Text: "bob"}, []string{"job-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.filter
			f.Queue, f.State = "q", asyncmqtype.StateWaiting
			page, err := s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{Filter: f, Sort: asyncmqtype.SortOldest, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range page.Jobs {
				got = append(got, j.ID)
			}
			if !slices.Equal(got, tt.want) || page.Total != len(tt.want) {
				t.Errorf("got %v (total %d), want %v", got, page.Total, tt.want)
			}
		})
	}
}

func TestPlanPage(t *testing.T) {
	t.Parallel()
	counts := func(m map[asyncmqtype.State]int) [numStates]int {
		var c [numStates]int
		for s, n := range m {
			c[stateIndex(s)] = n
		}
		return c
	}
	// The state of a bounded scan is in its text (see boundedScans).
	const (
		boundedAsc    = "queue = ? AND state = '%s' ORDER BY created_at, id "
		boundedDesc   = "queue = ? AND state = '%s' ORDER BY created_at DESC"
		unboundedAsc  = "queue >= ?"
		unboundedDesc = "queue <= ?"
	)
	tests := []struct {
		name   string
		counts map[asyncmqtype.State]int
		state  asyncmqtype.State
		sort   asyncmqtype.Sort
		offset int
		want   string
		args   []any
	}{
		{"first page, newest", map[asyncmqtype.State]int{"waiting": 1000}, "waiting", asyncmqtype.SortNewest, 0, boundedDesc, []any{"q", 20, 0}},
		{"first page, oldest", map[asyncmqtype.State]int{"waiting": 1000}, "waiting", asyncmqtype.SortOldest, 0, boundedAsc, []any{"q", 20, 0}},
		{"middle, queue start nearer", map[asyncmqtype.State]int{"waiting": 1000}, "waiting", asyncmqtype.SortOldest, 400, unboundedAsc, []any{"q", 20, 400}},
		{"deep, queue end nearer", map[asyncmqtype.State]int{"waiting": 1000}, "waiting", asyncmqtype.SortOldest, 900, unboundedDesc, []any{"q", 20, 80}},
		{"last partial page", map[asyncmqtype.State]int{"waiting": 1000}, "waiting", asyncmqtype.SortNewest, 990, boundedAsc, []any{"q", 10, 0}},
		{"other states before", map[asyncmqtype.State]int{"waiting": 1000, "completed": 100000}, "waiting", asyncmqtype.SortNewest, 500, unboundedDesc, []any{"q", 20, 500}},
		{"big states on both sides", map[asyncmqtype.State]int{"completed": 1000, "active": 100000, "waiting": 100000}, "completed", asyncmqtype.SortOldest, 500, boundedDesc, []any{"q", 20, 480}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "q", State: tt.state}, Sort: tt.sort, Offset: tt.offset, Limit: 20}
			scan, ok := planPage(p, counts(tt.counts))
			if !ok {
				t.Fatal("planPage found the page empty")
			}
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, tt.state)
			}
			if !strings.Contains(scan.seqs, want) || !slices.Equal(scan.args, tt.args) {
				t.Errorf("plan %q %v, want %q %v", scan.seqs, scan.args, want, tt.args)
			}
		})
	}
	if _, ok := planPage(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "q", State: "waiting"}, Offset: 5, Limit: 20}, counts(map[asyncmqtype.State]int{"waiting": 5})); ok {
		t.Error("planPage planned a page past the end")
	}
}

// TestListJobsConcurrently lists from more goroutines than there are read connections: a
// listing must never hold one connection while it waits for another.
func TestListJobsConcurrently(t *testing.T) {
	t.Parallel()
	s := setup(t, ReadConns(1))
	s.enqueueN("q", "j", 30, t0)
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 10 {
				f := asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateWaiting}
				if (g+i)%2 == 1 {
					f.Task = "email"
				}
				if _, err := s.b.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: f, Offset: i, Limit: 5}); err != nil {
					t.Errorf("list: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
