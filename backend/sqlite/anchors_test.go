package sqlite

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// fakeClock is the anchors' clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// anchorSetup is setup with anchors every step positions, kept until clock moves on by an hour
// or drift jobs entered or left their state.
func anchorSetup(t *testing.T, step, drift int) (*bundle, *fakeClock) {
	t.Helper()
	s := setup(t)
	clock := &fakeClock{t: t0}
	c := s.b.anchors
	c.step, c.drift, c.ttl, c.now = step, drift, time.Hour, clock.now
	return s, clock
}

func (s *bundle) pageIDs(queue string, state asyncmqtype.State, sort asyncmqtype.Sort, offset, limit int) ([]string, asyncmqtype.JobPage) {
	s.t.Helper()
	page, err := s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: queue, State: state}, Sort: sort, Offset: offset, Limit: limit})
	if err != nil {
		s.t.Fatalf("list %s %s offset %d: %v", state, sort, offset, err)
	}
	ids := make([]string, len(page.Jobs))
	for i, j := range page.Jobs {
		ids[i] = j.ID
		if j.State != state || j.Queue != queue {
			s.t.Errorf("page of %s jobs of %q shows job %s, %s in %q", state, queue, j.ID, j.State, j.Queue)
		}
	}
	return ids, page
}

// TestAnchoredPages compares every page of every state with a sort of the whole table, with
// anchors at several spacings: pages on either side of an anchor, pages that straddle one, and
// the last page all read the same jobs as an offset would.
func TestAnchoredPages(t *testing.T) {
	t.Parallel()
	for _, step := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprint("step=", step), func(t *testing.T) {
			t.Parallel()
			s := listFixture(t)
			s.b.anchors.step = step
			for _, state := range asyncmqtype.States {
				for _, sort := range []asyncmqtype.Sort{asyncmqtype.SortNewest, asyncmqtype.SortOldest} {
					want := s.reference("b", state, sort)
					for _, limit := range []int{1, 4, 7} {
						for offset := 0; offset <= len(want)+1; offset++ {
							got, page := s.pageIDs("b", state, sort, offset, limit)
							w := want[min(offset, len(want)):min(offset+limit, len(want))]
							if !slices.Equal(got, w) || page.Total != len(want) {
								t.Fatalf("%s %s offset %d limit %d: got %v (total %d), want %v (total %d)",
									state, sort, offset, limit, got, page.Total, w, len(want))
							}
						}
					}
				}
			}
			if len(s.b.anchors.lists) == 0 {
				t.Error("no page was read from anchors")
			}
		})
	}
}

// TestAnchorsDrift moves jobs out of and into a state whose anchors are kept: the pages stay
// within the allowed drift of the exact page and show only jobs of the state, and once more jobs
// have moved than the drift allows, the anchors are found again.
func TestAnchorsDrift(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		move func(s *bundle, n int)
	}{
		{"claims from the oldest end", func(s *bundle, n int) { s.claim(t0, n, "q") }},
		{"enqueues at the newest end", func(s *bundle, n int) {
			s.enqueueN("q", fmt.Sprint("new-", len(s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest))), n, t0.Add(time.Hour))
		}},
	}
	for _, tt := range tests {
		for _, sort := range []asyncmqtype.Sort{asyncmqtype.SortNewest, asyncmqtype.SortOldest} {
			t.Run(tt.name+"/"+string(sort), func(t *testing.T) {
				t.Parallel()
				const drift = 5
				s, _ := anchorSetup(t, 10, drift)
				s.enqueueN("q", "j", 100, t0)
				// Offsets 30 and 65 of 100 count from either end of the listing.
				offsets := []int{30, 65}
				for _, offset := range offsets {
					s.pageIDs("q", asyncmqtype.StateWaiting, sort, offset, 5)
				}
				first := maps.Clone(s.b.anchors.lists)
				if len(first) != 2 {
					t.Fatalf("%d listings with anchors, want both ends", len(first))
				}
				moved := 0
				for _, n := range []int{3, 2, 1} {
					tt.move(s, n)
					moved += n
					want := s.reference("q", asyncmqtype.StateWaiting, sort)
					for _, offset := range offsets {
						got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, sort, offset, 5)
						start := slices.Index(want, got[0])
						if start < 0 || abs(start-offset) > min(moved, drift) || !slices.Equal(got, want[start:start+5]) {
							t.Errorf("after %d moves: offset %d got %v, want 5 consecutive jobs within %d of %v", moved, offset, got, min(moved, drift), want[offset:offset+5])
						}
					}
					for k, a := range first {
						if kept := s.b.anchors.lists[k] == a; kept != (moved <= drift) {
							t.Errorf("after %d moves, anchors of %+v kept: %t", moved, k, kept)
						}
					}
				}
			})
		}
	}
}

// TestAnchorsExpire changes a state from another Backend, whose writes this one does not see
// move: the pages come from the anchors, stale by the change, until they expire.
func TestAnchorsExpire(t *testing.T) {
	t.Parallel()
	s, clock := anchorSetup(t, 10, 1000)
	s.enqueueN("q", "j", 100, t0)
	other, err := Open(s.ctx, s.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	before := s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest)
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, before[30:35]) {
		t.Fatalf("got %v, want %v", got, before[30:35])
	}
	// Ten jobs that sort first move every later job ten positions back.
	var jobs []*asyncmqtype.JobInfo
	for i := range 10 {
		j := newJob(fmt.Sprintf("early-%d", i), "q")
		j.CreatedAt = t0.Add(-time.Hour)
		jobs = append(jobs, j)
	}
	if err := other.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: t0}); err != nil {
		t.Fatal(err)
	}
	after := s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest)

	clock.advance(time.Hour - time.Nanosecond)
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, before[30:35]) {
		t.Errorf("within the TTL: got %v, want the page the anchors were found for, %v", got, before[30:35])
	}
	clock.advance(time.Nanosecond)
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, after[30:35]) {
		t.Errorf("after the TTL: got %v, want %v", got, after[30:35])
	}
}

// TestAnchorsOtherWriterBeyondDrift drops anchors when the counters show that another
// Backend moved more jobs than the drift allows, however young the anchors are.
func TestAnchorsOtherWriterBeyondDrift(t *testing.T) {
	t.Parallel()
	s, _ := anchorSetup(t, 10, 5)
	s.enqueueN("q", "j", 100, t0)
	other, err := Open(s.ctx, s.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5)
	var jobs []*asyncmqtype.JobInfo
	for i := range 6 {
		j := newJob(fmt.Sprintf("early-%d", i), "q")
		j.CreatedAt = t0.Add(-time.Hour)
		jobs = append(jobs, j)
	}
	if err := other.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: t0}); err != nil {
		t.Fatal(err)
	}
	want := s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest)
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, want[30:35]) {
		t.Errorf("got %v, want %v", got, want[30:35])
	}
}

// TestAnchorsWhileWalking reads pages while another page holds the walk: they do not wait for
// it, and read the same jobs with an offset.
func TestAnchorsWhileWalking(t *testing.T) {
	t.Parallel()
	s, _ := anchorSetup(t, 10, 5)
	s.enqueueN("q", "j", 100, t0)
	a := s.b.anchors.get(listing{queue: "q", state: asyncmqtype.StateWaiting}, 100)
	a.walk.Lock()
	defer a.walk.Unlock()
	want := s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest)
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, want[30:35]) {
		t.Errorf("got %v, want %v", got, want[30:35])
	}
	if len(a.keys) != 0 {
		t.Errorf("a page walked while another held the walk: %d anchors", len(a.keys))
	}
}

// TestAnchorsStaleWhileRewalking reads a page while the walk that replaces expired anchors is
// under way: it starts from the expired anchors (still within the drift) instead of an offset
// scan, and once the walk is done the page reflects the new positions.
func TestAnchorsStaleWhileRewalking(t *testing.T) {
	t.Parallel()
	s, clock := anchorSetup(t, 10, 1000)
	s.enqueueN("q", "j", 100, t0)
	before := s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest)
	s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5)
	var jobs []*asyncmqtype.JobInfo
	for i := range 10 {
		j := newJob(fmt.Sprintf("early-%d", i), "q")
		j.CreatedAt = t0.Add(-time.Hour)
		jobs = append(jobs, j)
	}
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: t0}); err != nil {
		t.Fatal(err)
	}
	after := s.reference("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest)
	clock.advance(time.Hour)

	a := s.b.anchors.get(listing{queue: "q", state: asyncmqtype.StateWaiting}, 110)
	if len(a.stale) == 0 {
		t.Fatal("expired anchors within the drift were not kept as stale")
	}
	a.walk.Lock()
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, before[30:35]) {
		t.Errorf("during the walk: got %v, want the page of the stale anchors %v", got, before[30:35])
	}
	a.walk.Unlock()
	if got, _ := s.pageIDs("q", asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 30, 5); !slices.Equal(got, after[30:35]) {
		t.Errorf("after the walk: got %v, want %v", got, after[30:35])
	}
}

// TestAnchorsBounded keeps the anchors of a bounded number of listings, and per listing only
// those a page needed.
func TestAnchorsBounded(t *testing.T) {
	t.Parallel()
	s, _ := anchorSetup(t, 10, 5)
	s.b.anchors.capacity = 2
	for _, q := range []string{"a", "b", "c"} {
		s.enqueueN(q, q, 50, t0)
		s.pageIDs(q, asyncmqtype.StateWaiting, asyncmqtype.SortOldest, 20, 5)
	}
	c := s.b.anchors
	if len(c.lists) != 2 || c.lru.Len() != 2 {
		t.Fatalf("%d listings (%d in the LRU list), want 2", len(c.lists), c.lru.Len())
	}
	if c.lists[listing{queue: "a", state: asyncmqtype.StateWaiting}] != nil {
		t.Error("kept the least recently used listing")
	}
	// Offset 20 of 50 is nearer the oldest end; the page starts after the second anchor.
	a := c.lists[listing{queue: "c", state: asyncmqtype.StateWaiting}]
	if a == nil || len(a.keys) != 2 {
		t.Fatalf("anchors of queue c: %+v, want the first 2 only", a)
	}
}
