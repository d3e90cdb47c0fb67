package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// ListJobs returns one page of a queue's jobs in one state, newest or oldest first by
// (CreatedAt, ID). An empty Sort means newest; Limit must be 1 to 1,000.
//
// Without Task, ID or Text filters, Total comes from the queue's counters, and the page is read
// from the (queue, state, created_at, id) index without touching other jobs' rows. A page
// within 128 jobs of either end of the state is read with an offset from the nearer end (see
// planPage); a deeper one from the nearest of the anchors the Backend keeps for a few seconds
// (see anchors.go), so page 5,000 of a million jobs costs about as much as the first. While
// jobs enter or leave the state, a deep page may start up to 100 positions early or late, as
// any page may between two requests; its jobs are always ones in the state. With filters, the
// jobs of the state are read and matched one by one, and counted for Total; in a state of
// 10,000 jobs or more that count is cached while the queue is unchanged, and once it changed
// may lag by up to 30 seconds, recounted in the background (see totals.go). Task and Text fold
// the case of ASCII letters only.
func (b *Backend) ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	if err := p.Validate(); err != nil {
		return asyncmqtype.JobPage{}, err
	}
	if b.closed.Load() {
		return asyncmqtype.JobPage{}, fmt.Errorf("list jobs: %w", asyncmqtype.ErrClosed)
	}
	if p.Sort == "" {
		p.Sort = asyncmqtype.SortNewest
	}
	page, err := b.listJobs(ctx, p)
	if err != nil {
		return asyncmqtype.JobPage{}, fmt.Errorf("list %s jobs of queue %q: %w", p.Filter.State, p.Filter.Queue, b.fail(err))
	}
	return page, nil
}

const qQueueCounts = `SELECT waiting, active, delayed, completed, failed, cancelled, waiting_children
FROM asyncmq_queues WHERE name = ?`

// scanCounts reads a row of qQueueCounts: a queue's counters, by stateIndex.
func scanCounts(row scanner) ([numStates]int, error) {
	var c [numStates]int
	err := row.Scan(&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6])
	return c, err
}

func (b *Backend) listJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	filtered := p.Filter.Task != "" || p.Filter.ID != "" || p.Filter.Text != ""
	cond, args := where(p.Filter)
	dir := ""
	if p.Sort == asyncmqtype.SortNewest {
		dir = " DESC"
	}
	filteredPage := `SELECT seq FROM asyncmq_jobs WHERE ` + cond + ` ORDER BY created_at` + dir + `, id` + dir + ` LIMIT ? OFFSET ?`
	// Every statement the transaction may run is prepared before it starts: preparing on the
	// pool inside it would wait for a second connection, and with every connection held by a
	// listing the pool would deadlock.
	cols, scan := jobCols, scanJob
	if p.Brief {
		cols, scan = briefCols, scanBriefJob
	}
	queries := []string{qQueueCounts, `SELECT count(*) FROM asyncmq_jobs WHERE ` + cond, pageQuery(filteredPage, cols), qLastEvent}
	if !filtered {
		queries = queries[:1]
		queries = append(queries, unfilteredPageQueries[cols][stateIndex(p.Filter.State)]...)
		queries = append(queries, anchorQueries...)
	}
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := b.rstmt(ctx, q)
		if err != nil {
			return asyncmqtype.JobPage{}, err
		}
		stmts[q] = st
	}

	// One read transaction, so that the counters, the page and the total agree.
	tx, err := b.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return asyncmqtype.JobPage{}, err
	}
	defer tx.Rollback()
	// Each statement is bound to the transaction once: an anchor walk runs one statement once
	// per anchor, and every binding lives until the transaction ends.
	bound := make(map[string]*sql.Stmt, len(queries))
	stmt := func(q string) *sql.Stmt {
		st := bound[q]
		if st == nil {
			st = tx.StmtContext(ctx, stmts[q])
			bound[q] = st
		}
		return st
	}
	row := func(q string, args ...any) *sql.Row {
		return stmt(q).QueryRowContext(ctx, args...)
	}

	page := asyncmqtype.JobPage{Jobs: []*asyncmqtype.JobInfo{}}
	var plan pageScan
	c, err := scanCounts(row(qQueueCounts, p.Filter.Queue))
	if errors.Is(err, sql.ErrNoRows) {
		return page, nil
	}
	if err != nil {
		return asyncmqtype.JobPage{}, fmt.Errorf("read counters: %w", err)
	}
	if !filtered {
		page.Total = c[stateIndex(p.Filter.State)]
		if p.Offset >= page.Total {
			return page, nil
		}
		var ok bool
		plan, ok, err = b.anchoredPage(ctx, stmt, p, page.Total)
		if err != nil {
			return asyncmqtype.JobPage{}, fmt.Errorf("find the page's anchor: %w", err)
		}
		if !ok {
			plan, _ = planPage(p, c)
		}
	} else {
		if page.Total, err = b.filteredTotal(ctx, row, queries[1], args, c, c[stateIndex(p.Filter.State)]); err != nil {
			return asyncmqtype.JobPage{}, err
		}
		if p.Offset >= page.Total {
			return page, nil
		}
		plan = pageScan{seqs: filteredPage, args: append(args, p.Limit, p.Offset)}
	}

	rows, err := stmt(pageQuery(plan.seqs, cols)).QueryContext(ctx, plan.args...)
	if err != nil {
		return asyncmqtype.JobPage{}, err
	}
	jobs, err := scanRows(rows, scan)
	if err != nil {
		return asyncmqtype.JobPage{}, err
	}
	for _, j := range jobs {
		// A guard only: the plans stay inside the queue's and state's range.
		if j.Queue == p.Filter.Queue && j.State == p.Filter.State {
			page.Jobs = append(page.Jobs, j)
		}
	}
	slices.SortFunc(page.Jobs, func(x, y *asyncmqtype.JobInfo) int {
		c := cmp.Or(x.CreatedAt.Compare(y.CreatedAt), strings.Compare(x.ID, y.ID))
		if p.Sort == asyncmqtype.SortNewest {
			return -c
		}
		return c
	})
	return page, nil
}

// pageScan selects the seqs of one page.
type pageScan struct {
	seqs string
	args []any
}

// pageQuery reads the cols of the jobs whose seqs q selects.
func pageQuery(q, cols string) string {
	return `SELECT ` + cols + ` FROM asyncmq_jobs WHERE seq IN (` + q + `)`
}

// unfilteredPageQueries are the page reads an unfiltered listing may run, by the columns it
// reads and the state listed: built once, since a listing prepares them all before its
// transaction.
var unfilteredPageQueries = func() map[string]*[numStates][]string {
	m := make(map[string]*[numStates][]string)
	for _, cols := range []string{jobCols, briefCols} {
		m[cols] = new([numStates][]string)
		for i := range numStates {
			var qs []string
			for _, q := range append(boundedScans[i][:], unboundedScans[:]...) {
				qs = append(qs, pageQuery(q, cols))
			}
			for _, q := range qAnchoredPage {
				qs = append(qs, pageQuery(q, cols))
			}
			m[cols][i] = qs
		}
	}
	return m
}()

// pageRange returns the positions [lo, hi), in ascending (created_at, id) order, of the page p
// of a state that holds n jobs, p.Offset being below n.
func pageRange(p asyncmqtype.ListJobsParams, n int) (lo, hi int) {
	if p.Sort == asyncmqtype.SortNewest {
		hi = n - p.Offset
		return max(0, hi-p.Limit), hi
	}
	return p.Offset, min(n, p.Offset+p.Limit)
}

// boundedScans are the page scans bounded by queue and state, per state, oldest first then
// newest first. The state is written in the text, not bound: a bound state makes SQLite
// prepare the statement again at every run, because its value decides which partial index
// (asyncmq_jobs_delayed, _lease, _finished) the plan may use; that cost 16µs of a 38µs page
// scan on a million-job file.
var boundedScans = func() (out [numStates][2]string) {
	for _, st := range asyncmqtype.States {
		cond := `queue = ? AND state = '` + string(st) + `'`
		out[stateIndex(st)] = [2]string{
			`SELECT seq FROM asyncmq_jobs WHERE ` + cond + ` ORDER BY created_at, id LIMIT ? OFFSET ?`,
			`SELECT seq FROM asyncmq_jobs WHERE ` + cond + ` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
		}
	}
	return out
}()

// unboundedScans are the page scans bounded by the queue alone, from its first or last entry.
var unboundedScans = [...]string{
	`SELECT seq FROM asyncmq_jobs WHERE queue >= ? ORDER BY queue, state, created_at, id LIMIT ? OFFSET ?`,
	`SELECT seq FROM asyncmq_jobs WHERE queue <= ? ORDER BY queue DESC, state DESC, created_at DESC, id DESC LIMIT ? OFFSET ?`,
}

// The cost of stepping over one entry of the listing index, in relative units: a scan bounded
// by queue and state compares every entry with the bound, which makes it several times dearer
// than a scan bounded on the queue alone, whose bound is only checked by the seek.
const (
	boundedStep   = 4
	unboundedStep = 1
)

// planPage picks how to read the page p of a queue whose per-state counters are c, and reports
// false when the page is empty. SQLite has no way to skip to an offset: it steps over every
// entry before it. So the page is read from whichever end of the index is cheaper:
//
//   - bounded by queue and state, from the range's start or its end (reading the mirror page in
//     the opposite order), stepping over the jobs of the state before the page;
//   - or bounded by the queue alone, from the queue's first or last index entry, stepping over
//     the queue's jobs in the states that sort before (or after) the state too, whose number
//     the counters give exactly.
func planPage(p asyncmqtype.ListJobsParams, c [numStates]int) (pageScan, bool) {
	f := p.Filter
	n := c[stateIndex(f.State)]
	if p.Offset >= n {
		return pageScan{}, false
	}
	lo, hi := pageRange(p, n)
	before, after := 0, 0
	for _, s := range asyncmqtype.States {
		switch {
		case s < f.State:
			before += c[stateIndex(s)]
		case s > f.State:
			after += c[stateIndex(s)]
		}
	}
	count := hi - lo
	plans := []struct {
		cost int
		scan pageScan
	}{
		{boundedStep * lo, pageScan{boundedScans[stateIndex(f.State)][0], []any{f.Queue, count, lo}}},
		{boundedStep * (n - hi), pageScan{boundedScans[stateIndex(f.State)][1], []any{f.Queue, count, n - hi}}},
		{unboundedStep * (before + lo), pageScan{unboundedScans[0], []any{f.Queue, count, before + lo}}},
		{unboundedStep * (after + n - hi), pageScan{unboundedScans[1], []any{f.Queue, count, after + n - hi}}},
	}
	best := 0
	for i := range plans {
		if plans[i].cost < plans[best].cost {
			best = i
		}
	}
	return plans[best].scan, true
}
