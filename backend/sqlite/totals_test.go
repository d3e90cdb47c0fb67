package sqlite

import (
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func (s *bundle) filteredTotal(f asyncmqtype.JobFilter) int {
	s.t.Helper()
	page, err := s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{Filter: f, Limit: 10, Brief: true})
	if err != nil {
		s.t.Fatalf("ListJobs(%+v): %v", f, err)
	}
	return page.Total
}

func (b *Backend) totalCounts() int {
	b.totals.mu.Lock()
	defer b.totals.mu.Unlock()
	return b.totals.counts
}

// TestFilteredTotalsOfLargeStates checks that the Total of a filtered listing of a large state
// is counted once while the queue is unchanged, shared by concurrent callers, and catches up
// after a change.
func TestFilteredTotalsOfLargeStates(t *testing.T) {
	t.Parallel()
	s := setup(t)
	now := time.Now()
	s.enqueueN("q", "a", bigFiltered-4000, now, func(j *asyncmqtype.JobInfo) { j.Task = "report.build" })
	s.enqueueN("q", "b", 4000, now)
	byTask := asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateWaiting, Task: "REPORT"}
	want := bigFiltered - 4000

	if got := s.filteredTotal(byTask); got != want {
		t.Fatalf("Total of task REPORT = %d, want %d", got, want)
	}
	counted := s.b.totalCounts()
	for range 5 {
		if got := s.filteredTotal(byTask); got != want {
			t.Fatalf("Total of task REPORT again = %d, want %d", got, want)
		}
	}
	if n := s.b.totalCounts(); n != counted {
		t.Errorf("an unchanged queue was counted %d more times, want none", n-counted)
	}

	// Twenty clients asking for a filter not counted before share one count.
	byID := asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateWaiting, ID: "b-0"}
	var wg sync.WaitGroup
	totals := make([]int, 20)
	for i := range totals {
		wg.Go(func() { totals[i] = s.filteredTotal(byID) })
	}
	wg.Wait()
	for i, got := range totals {
		if got != 4000 {
			t.Errorf("client %d: Total of IDs with b-0 = %d, want 4000", i, got)
		}
	}
	if n := s.b.totalCounts() - counted; n != 1 {
		t.Errorf("20 concurrent clients counted %d times, want 1", n)
	}

	// The same text under another filter is another count: no job ID holds "REPORT", and
	// every payload is {"n":1}.
	for _, f := range []asyncmqtype.JobFilter{
		{Queue: "q", State: asyncmqtype.StateWaiting, ID: "REPORT"},
		{Queue: "q", State: asyncmqtype.StateWaiting, Text: "REPORT"},
	} {
		if got := s.filteredTotal(f); got != 0 {
			t.Errorf("Total of %+v = %d, want 0 (not the task filter's %d)", f, got, want)
		}
	}

	// After a change the Total catches up, counted again in the background.
	s.enqueueN("q", "c", 3, now, func(j *asyncmqtype.JobInfo) { j.Task = "report.build" })
	deadline := time.Now().Add(10 * time.Second)
	got := s.filteredTotal(byTask)
	for got != want+3 && time.Now().Before(deadline) {
		if got != want {
			t.Fatalf("Total of task REPORT after 3 more = %d, want %d (cached) or %d", got, want, want+3)
		}
		time.Sleep(20 * time.Millisecond)
		got = s.filteredTotal(byTask)
	}
	if got != want+3 {
		t.Errorf("Total of task REPORT after 3 more stayed %d, want %d", got, want+3)
	}
}
