package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// bigQueue stands in for a store holding a million waiting jobs in queue "big": it answers
// listings the way an indexed backend does (one page, plus the total) and records each call, so
// the test proves the dashboard asks for exactly one page. Every other queue is in memory.
type bigQueue struct {
	backend.Store
	total int

	mu    sync.Mutex
	lists []asyncmqtype.ListJobsParams
}

func (b *bigQueue) Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error) {
	if name != "big" {
		return b.Store.Queue(ctx, name)
	}
	counts := map[asyncmqtype.State]int{}
	for _, s := range asyncmqtype.States {
		counts[s] = 0
	}
	counts[asyncmqtype.StateWaiting] = b.total
	return asyncmqtype.QueueInfo{Name: "big", Counts: counts}, nil
}

func (b *bigQueue) ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	if p.Filter.Queue != "big" {
		return b.Store.ListJobs(ctx, p)
	}
	b.mu.Lock()
	b.lists = append(b.lists, p)
	b.mu.Unlock()
	page := asyncmqtype.JobPage{Total: b.total}
	if p.Filter.State != asyncmqtype.StateWaiting {
		page.Total = 0
		return page, nil
	}
	created := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := p.Offset; i < min(p.Offset+p.Limit, b.total); i++ {
		page.Jobs = append(page.Jobs, &asyncmqtype.JobInfo{
			ID: fmt.Sprintf("big-%07d", i), Queue: "big", Task: "crunch", State: asyncmqtype.StateWaiting,
			CreatedAt: created, RunAt: created,
		})
	}
	return page, nil
}

func (b *bigQueue) calls() []asyncmqtype.ListJobsParams {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.lists
	b.lists = nil
	return out
}

func TestMillionJobPagination(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	big := &bigQueue{Store: mem, total: 1_000_000}
	e := setup(t, withBackend(big))
	tests := []struct {
		name        string
		query       string
		rows        int
		label       string
		wantOffsets []int // Offset of each backend listing, in order
		wantLimit   int
		clamped     bool
		firstRow    string
	}{
		{"page 5,000", "page=5000", 20, "Page 5,000 of 50,000", []int{99_980}, 20, false, "big-0099980"},
		{"last page", "page=50000", 20, "Page 50,000 of 50,000", []int{999_980}, 20, false, "big-0999980"},
		{"past the end clamps to the last page", "page=50001", 20, "Page 50,000 of 50,000", []int{1_000_000, 999_980}, 20, true, "big-0999980"},
		{"far past the end", "page=999999999999", 20, "Page 50,000 of 50,000", []int{(maxPage - 1) * 20, 999_980}, 20, true, "big-0999980"},
		{"size 100", "page=5000&size=100", 100, "Page 5,000 of 10,000", []int{499_900}, 100, false, "big-0499900"},
		{"unsupported size", "page=2&size=999", 20, "Page 2 of 50,000", []int{20}, 20, false, "big-0000020"},
		{"negative page", "page=-4", 20, "Page 1 of 50,000", []int{0}, 20, false, "big-0000000"},
		{"junk page", "page=abc&size=x", 20, "Page 1 of 50,000", []int{0}, 20, false, "big-0000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			big.calls()
			start := time.Now()
			r := e.get("/queues/big/jobs?" + tt.query)
			elapsed := time.Since(start)
			wantStatus(t, r, http.StatusOK)
			if got := strings.Count(r.body, `data-testid="job-row"`); got != tt.rows {
				t.Errorf("rendered %d rows, want exactly %d", got, tt.rows)
			}
			wantContains(t, r.body, tt.label, "1,000,000 waiting jobs found.", `data-job-id="`+tt.firstRow+`"`)
			if strings.Contains(r.body, "past the end; showing the last page") != tt.clamped {
				t.Errorf("clamp notice shown = %v, want %v", !tt.clamped, tt.clamped)
			}
			calls := big.calls()
			var offsets []int
			for _, c := range calls {
				offsets = append(offsets, c.Offset)
				if c.Limit != tt.wantLimit {
					t.Errorf("listing limit %d, want %d", c.Limit, tt.wantLimit)
				}
			}
			if fmt.Sprint(offsets) != fmt.Sprint(tt.wantOffsets) {
				t.Errorf("listing offsets %v, want %v", offsets, tt.wantOffsets)
			}
			// Generous under a shared 2-core CI machine: the point is that the cost does not
			// grow with the page number (the whole queue would take seconds).
			if elapsed > 2*time.Second {
				t.Errorf("page took %s", elapsed)
			}
		})
	}
	r := e.get("/queues/big/jobs?page=5000&task=cr&q=x&sort=oldest")
	wantContains(t, r.body,
		`href="/asyncmq/queues/big/jobs?page=5001&amp;q=x&amp;sort=oldest&amp;task=cr" rel="next"`,
		`href="/asyncmq/queues/big/jobs?page=50000&amp;q=x&amp;sort=oldest&amp;task=cr" rel="last"`,
		`href="/asyncmq/queues/big/jobs?page=4999&amp;q=x&amp;sort=oldest&amp;task=cr" rel="prev"`,
		"All 1,000,000 matching jobs:")
	c := big.calls()
	if len(c) != 1 || c[0].Sort != asyncmqtype.SortOldest || c[0].Filter.Task != "cr" || c[0].Filter.Text != "x" {
		t.Errorf("filters did not reach the backend: %+v", c)
	}
}

func TestPaginationOnMemoryBackend(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var jobs []*asyncmqtype.JobInfo
	for range 250 {
		jobs = append(jobs, job("q", "t", ""))
	}
	e.add(jobs...)
	r := e.get("/queues/q/jobs?page=13")
	wantContains(t, r.body, "Page 13 of 13", "250 waiting jobs found.")
	if got := strings.Count(r.body, `data-testid="job-row"`); got != 10 {
		t.Errorf("last page has %d rows, want 10", got)
	}
	r = e.get("/queues/q/jobs?page=2&size=100&sort=oldest")
	if got := strings.Count(r.body, `data-testid="job-row"`); got != 100 {
		t.Errorf("page 2 at size 100 has %d rows", got)
	}
	wantContains(t, r.body, `data-job-id="`+jobs[100].ID+`"`)
	empty := e.get("/queues/q/jobs?state=failed&page=7")
	wantContains(t, empty.body, "Page 1 of 1", "No jobs match.")
}

func TestPager(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query            string
		total            int
		page, size, last int
		clamped          bool
	}{
		{"", 0, 1, 20, 1, false},
		{"page=3&size=50", 120, 3, 50, 3, false},
		{"page=4&size=50", 120, 3, 50, 3, true},
		{"page=0&size=10", 5, 1, 20, 1, false},
		{"page=2", 40, 2, 20, 2, false},
		{"page=9999999999999999999", 40, 2, 20, 2, true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		p := newPager(q, "/x")
		clamped := p.setTotal(tt.total)
		if p.Page != tt.page || p.Size != tt.size || p.Pages != tt.last || clamped != tt.clamped {
			t.Errorf("%q total %d: page %d size %d pages %d clamped %v; want %d %d %d %v",
				tt.query, tt.total, p.Page, p.Size, p.Pages, clamped, tt.page, tt.size, tt.last, tt.clamped)
		}
	}
}
