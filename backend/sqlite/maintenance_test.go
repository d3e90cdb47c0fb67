package sqlite

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// bulkJobs is more than one maintenance chunk, so that the chunked loops run more than once.
const bulkJobs = chunk*2 + 17

func TestChunkedOperations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run sets up bulkJobs jobs of queue "q", acts on them and returns how many changed.
		run  func(s *bundle) (int, error)
		want map[asyncmqtype.State]int
	}{
		{"drain", func(s *bundle) (int, error) {
			s.enqueueN("q", "j", bulkJobs, t0)
			return s.b.Drain(s.ctx, "q", false)
		}, map[asyncmqtype.State]int{}},
		{"cancel by filter", func(s *bundle) (int, error) {
			s.enqueueN("q", "j", bulkJobs, t0)
			return s.b.ApplyJobs(s.ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, Filter: asyncmqtype.JobFilter{Queue: "q"}, Now: t0})
		}, map[asyncmqtype.State]int{asyncmqtype.StateCancelled: bulkJobs}},
		{"promote due", func(s *bundle) (int, error) {
			s.enqueueN("q", "j", bulkJobs, t0.Add(-time.Hour), func(j *asyncmqtype.JobInfo) { j.RunAt = t0 })
			return s.b.PromoteDue(s.ctx, backend.PromoteParams{Now: t0})
		}, map[asyncmqtype.State]int{asyncmqtype.StateWaiting: bulkJobs}},
		{"recover stalled", func(s *bundle) (int, error) {
			s.enqueueN("q", "j", bulkJobs, t0)
			for range 3 {
				s.claim(t0, 1000, "q")
			}
			res, err := s.b.RecoverStalled(s.ctx, backend.RecoverParams{Now: t0.Add(time.Hour), MaxStalls: 1})
			return len(res.Requeued), err
		}, map[asyncmqtype.State]int{asyncmqtype.StateWaiting: bulkJobs}},
		{"clean keeping ten", func(s *bundle) (int, error) {
			s.enqueueN("q", "j", bulkJobs, t0)
			for i := range 3 {
				s.finishAll(t0.Add(time.Duration(i)*time.Second), s.claim(t0, 1000, "q"), asyncmqtype.OutcomeCompleted)
			}
			return s.b.Clean(s.ctx, backend.CleanParams{Queue: "q", State: asyncmqtype.StateCompleted, Keep: 10})
		}, map[asyncmqtype.State]int{asyncmqtype.StateCompleted: 10}},
		{"obliterate", func(s *bundle) (int, error) {
			s.enqueueN("q", "j", bulkJobs, t0)
			return bulkJobs, s.b.Obliterate(s.ctx, "q", false)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			n, err := tt.run(s)
			if err != nil {
				t.Fatal(err)
			}
			if n != bulkJobs-tt.want[asyncmqtype.StateCompleted] {
				t.Errorf("changed %d jobs, want %d", n, bulkJobs-tt.want[asyncmqtype.StateCompleted])
			}
			s.requireCountersMatchRows()
			q, err := s.b.Queue(s.ctx, "q")
			if tt.want == nil {
				if err == nil {
					t.Errorf("queue still there: %+v", q)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range asyncmqtype.States {
				if q.Counts[st] != tt.want[st] {
					t.Errorf("%d %s jobs, want %d", q.Counts[st], st, tt.want[st])
				}
			}
		})
	}
}

func TestCleanKeepsTheNewest(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.enqueueN("q", "j", 30, t0)
	// Three finish times, ten jobs each.
	for i := range 3 {
		s.finishAll(t0.Add(time.Duration(i)*time.Minute), s.claim(t0, 10, "q"), asyncmqtype.OutcomeCompleted)
	}
	n, err := s.b.Clean(s.ctx, backend.CleanParams{Queue: "q", State: asyncmqtype.StateCompleted, Keep: 15, Limit: 100})
	if err != nil || n != 15 {
		t.Fatalf("cleaned %d, %v; want 15", n, err)
	}
	page, err := s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateCompleted}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range page.Jobs {
		if j.FinishedAt.Before(t0.Add(time.Minute)) {
			t.Errorf("kept %s, finished at %s, over a newer one", j.ID, j.FinishedAt)
		}
	}
	if len(page.Jobs) != 15 {
		t.Errorf("%d jobs left, want 15", len(page.Jobs))
	}
}

func TestEventRetention(t *testing.T) {
	t.Parallel()
	const keep = 50
	s := setup(t, EventRetention(keep))
	for i := range 20 {
		s.enqueueN("q", fmt.Sprintf("b%02d", i), 10, t0)
	}
	last, err := s.b.LastEventCursor(s.ctx)
	if err != nil || last != "200" {
		t.Fatalf("last event cursor %q, %v; want 200", last, err)
	}
	evs, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{})
	if err != nil {
		t.Fatal(err)
	}
	// At most one prune chunk (a tenth of the retention) above the retention.
	if len(evs) < keep || len(evs) > keep+keep/10 {
		t.Errorf("%d events kept, want %d to %d", len(evs), keep, keep+keep/10)
	}
	for i, e := range evs {
		if want := strconv.Itoa(200 - (len(evs) - 1 - i)); e.Cursor != want {
			t.Fatalf("event %d has cursor %s, want %s: the newest events are kept, without gaps", i, e.Cursor, want)
		}
	}
}

func TestMetricsRetention(t *testing.T) {
	t.Parallel()
	s := setup(t, MetricsRetention(time.Hour))
	s.enqueueN("q", "j", 4, t0)
	s.finishAll(t0, s.claim(t0, 2, "q"), asyncmqtype.OutcomeCompleted)
	later := t0.Add(3 * time.Hour)
	s.finishAll(later, s.claim(later, 2, "q"), asyncmqtype.OutcomeCompleted)
	for _, p := range []asyncmqtype.MetricsParams{{}, {ByTask: true}} {
		ms, err := s.b.Metrics(s.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || !ms[0].Minute.Equal(later) || ms[0].Completed != 2 {
			t.Errorf("by task %v: buckets %+v, want only the one of %s", p.ByTask, ms, later)
		}
	}
}

// TestDeletedParentKeepsChildBlocked deletes a parent before it completed: a new job that takes
// its ID is another job, and its completion does not release the child.
func TestDeletedParentKeepsChildBlocked(t *testing.T) {
	t.Parallel()
	s := setup(t)
	child := newJob("child", "q")
	child.DependsOn = []string{"parent"}
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("parent", "q"), child}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.b.ApplyJobs(s.ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: []string{"parent"}, Now: t0}); err != nil || n != 1 {
		t.Fatalf("remove parent: %d, %v", n, err)
	}
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("parent", "q")}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	s.finishAll(t0, s.claim(t0, 10, "q"), asyncmqtype.OutcomeCompleted)
	j, err := s.b.GetJob(s.ctx, "child")
	if err != nil {
		t.Fatal(err)
	}
	if j.PendingDeps != 1 || len(s.claim(t0, 10, "q")) != 0 {
		t.Errorf("child released (PendingDeps %d) by a job that reused its deleted parent's ID", j.PendingDeps)
	}
}
