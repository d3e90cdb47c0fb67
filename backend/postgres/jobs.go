package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/jackc/pgx/v5"
)

// where builds the condition selecting f's jobs, numbering its parameters after the first
// skip. The state condition is left out when f.State is empty. Substring filters use strpos,
// so "%" and "_" match literally.
func where(f asyncmqtype.JobFilter, skip int) (string, []any) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(skip+len(args))
	}
	conds := []string{"queue = " + arg(f.Queue)}
	if f.State != "" {
		conds = append(conds, "state = "+arg(string(f.State)))
	}
	if f.Task != "" {
		conds = append(conds, "strpos(lower(task), lower("+arg(f.Task)+")) > 0")
	}
	if f.ID != "" {
		conds = append(conds, "strpos(id, "+arg(f.ID)+") > 0")
	}
	if f.Text != "" {
		conds = append(conds, "strpos(lower(payload::text), lower("+arg(f.Text)+")) > 0")
	}
	return strings.Join(conds, " AND "), args
}

// ListJobs returns one page of a queue's jobs in one state, newest or oldest first by
// (CreatedAt, ID), read in one repeatable-read transaction so that the total and the page agree.
// The page and the total come from the (queue, state, created_at, id) index. For a large queue
// (listcache.go) an unfiltered listing's total is the queue's cached count, and a deep page
// seeks to a cached anchor instead of stepping over its offset.
func (b *Backend) ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	if err := p.Validate(); err != nil {
		return asyncmqtype.JobPage{}, err
	}
	if p.Sort == "" {
		p.Sort = asyncmqtype.SortNewest
	}
	if err := b.open(ctx); err != nil {
		return asyncmqtype.JobPage{}, fmt.Errorf("list jobs: %w", err)
	}
	f := p.Filter
	plain := f.State != "" && f.Task == "" && f.ID == "" && f.Text == ""
	total := -1
	if plain && len(b.lc.cachedQueues(&f.Queue)) > 0 {
		// The same counts Queue shows, so that the two agree: from the cache when it may
		// answer, else counted as Queue counts.
		counts, pl, err := b.lc.countPlan(ctx, f.Queue)
		if err != nil {
			return asyncmqtype.JobPage{}, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, err)
		}
		if pl == refreshLater {
			b.recountLater(f.Queue)
		}
		if pl == readNow {
			b.lc.releaseCounts([]string{f.Queue})
			qs, err := b.queues(ctx, &f.Queue)
			if err != nil {
				return asyncmqtype.JobPage{}, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, b.fail(err))
			}
			if len(qs) == 1 {
				counts = qs[0].Counts
			}
		}
		if counts != nil {
			total = counts[f.State]
		}
	}
	if plain && total >= 0 && p.Offset >= anchorMinOffset {
		return b.listFromAnchor(ctx, p, total)
	}
	if total >= 0 {
		// The total is known: the page is one index range read, with no transaction to agree with.
		return b.listPage(ctx, p, total)
	}
	cond, args := where(f, 0)
	dir := ""
	if p.Sort == asyncmqtype.SortNewest {
		dir = " DESC"
	}
	page := asyncmqtype.JobPage{Jobs: []*asyncmqtype.JobInfo{}}
	err := pgx.BeginTxFunc(ctx, b.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM asyncmq_jobs WHERE `+cond, args...).Scan(&page.Total); err != nil {
			return fmt.Errorf("count jobs: %w", err)
		}
		if p.Offset >= page.Total {
			return nil
		}
		n := len(args)
		rows, err := tx.Query(ctx, `SELECT `+listCols(p.Brief)+` FROM asyncmq_jobs WHERE `+cond+` ORDER BY created_at`+dir+`, id`+dir+
			` LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), append(args, p.Limit, p.Offset)...)
		if err != nil {
			return err
		}
		jobs, err := scanListing(rows, p.Brief)
		if err != nil {
			return err
		}
		page.Jobs = append(page.Jobs, jobs...)
		return nil
	})
	if err != nil {
		return asyncmqtype.JobPage{}, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, b.fail(err))
	}
	if plain && total < 0 && page.Total >= bigCount {
		// A large queue not counted lately: count it for the cache, so that the next pages
		// need not.
		if _, err := b.queues(ctx, &f.Queue); err != nil {
			return asyncmqtype.JobPage{}, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, b.fail(err))
		}
	}
	return page, nil
}

// listPage reads the page at p.Offset of an unfiltered listing whose total is known.
func (b *Backend) listPage(ctx context.Context, p asyncmqtype.ListJobsParams, total int) (asyncmqtype.JobPage, error) {
	f := p.Filter
	page := asyncmqtype.JobPage{Jobs: []*asyncmqtype.JobInfo{}, Total: total}
	if p.Offset >= total {
		return page, nil
	}
	dir := ""
	if p.Sort == asyncmqtype.SortNewest {
		dir = " DESC"
	}
	rows, err := b.pool.Query(ctx, `SELECT `+listCols(p.Brief)+` FROM asyncmq_jobs WHERE queue = $1 AND state = $2
ORDER BY created_at`+dir+`, id`+dir+` LIMIT $3 OFFSET $4`, f.Queue, string(f.State), p.Limit, p.Offset)
	return b.fillPage(page, f, p.Brief, rows, err)
}

// fillPage scans the rows of a listing query (brief or not), or reports the query's error, for the listing of
// f's queue and state.
func (b *Backend) fillPage(page asyncmqtype.JobPage, f asyncmqtype.JobFilter, brief bool, rows pgx.Rows, err error) (asyncmqtype.JobPage, error) {
	if err == nil {
		var jobs []*asyncmqtype.JobInfo
		if jobs, err = scanListing(rows, brief); err == nil {
			page.Jobs = append(page.Jobs, jobs...)
			return page, nil
		}
	}
	return asyncmqtype.JobPage{}, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, b.fail(err))
}

// listFromAnchor reads a deep page of an unfiltered listing of a large queue from the index key
// at its offset, cached (listcache.go) or found by an index-only walk, then from there by
// keyset: the walk costs what OFFSET would but is shared by the requests of a few seconds, and
// once the anchor is cached it is walked again in the background.
func (b *Backend) listFromAnchor(ctx context.Context, p asyncmqtype.ListJobsParams, total int) (asyncmqtype.JobPage, error) {
	f := p.Filter
	desc := p.Sort == asyncmqtype.SortNewest
	dir, cmp := "", ">="
	if desc {
		dir, cmp = " DESC", "<="
	}
	page := asyncmqtype.JobPage{Jobs: []*asyncmqtype.JobInfo{}, Total: total}
	k := anchorKey{queue: f.Queue, state: f.State, desc: desc, offset: p.Offset}
	a, pl, err := b.lc.anchorPlan(ctx, k)
	if err != nil {
		return page, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, err)
	}
	switch pl {
	case readNow:
		if a, err = b.findAnchor(ctx, k); err != nil {
			return page, fmt.Errorf("list %s jobs of queue %q: %w", f.State, f.Queue, b.fail(err))
		}
	case refreshLater:
		refind := func(ctx context.Context) {
			if _, err := b.findAnchor(ctx, k); err != nil && !b.closed.Load() {
				b.cfg.logger.WarnContext(ctx, "asyncmq postgres: find a deep page's anchor", "queue", k.queue, "offset", k.offset, "error", err)
			}
		}
		if !b.later(refind) {
			b.lc.releaseAnchor(k)
		}
	}
	if !a.ok {
		return page, nil
	}
	rows, err := b.pool.Query(ctx, `SELECT `+listCols(p.Brief)+` FROM asyncmq_jobs WHERE queue = $1 AND state = $2
AND (created_at, id) `+cmp+` ($3, $4) ORDER BY created_at`+dir+`, id`+dir+` LIMIT $5`,
		f.Queue, string(f.State), a.createdAt, a.id, p.Limit)
	return b.fillPage(page, f, p.Brief, rows, err)
}

// findAnchor finds the index key at k's offset by an index-only walk and stores it, or
// releases k's refresh (which the caller claimed) when the walk fails.
func (b *Backend) findAnchor(ctx context.Context, k anchorKey) (anchor, error) {
	dir := ""
	if k.desc {
		dir = " DESC"
	}
	var a anchor
	at := time.Now()
	err := b.pool.QueryRow(ctx, `SELECT created_at, id FROM asyncmq_jobs WHERE queue = $1 AND state = $2
ORDER BY created_at`+dir+`, id`+dir+` OFFSET $3 LIMIT 1`, k.queue, string(k.state), k.offset).Scan(&a.createdAt, &a.id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		b.lc.releaseAnchor(k)
		return anchor{}, fmt.Errorf("find the job at offset %d: %w", k.offset, err)
	default:
		a.ok = true
	}
	a.at, a.took = at, time.Since(at)
	b.lc.storeAnchor(k, a)
	return a, nil
}

type target struct {
	id, queue, task string
	state           asyncmqtype.State
	cancelRequested bool
	createdAt       time.Time
	pendingDeps     int
}

const targetCols = `id, queue, task, state, cancel_requested, created_at, pending_deps`

// ApplyJobs applies a bulk action in transactions of at most 1,000 jobs, each job's change with
// its event in the same transaction; the rows are locked (FOR UPDATE) so that a job claimed or
// finished meanwhile is acted on in its latest state. With IDs empty the filter must name a
// queue; an empty Filter.State then means every state. With IDs, only Filter.Queue applies.
func (b *Backend) ApplyJobs(ctx context.Context, p asyncmqtype.ApplyParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	now := b.clock(p.Now)
	total := 0
	if len(p.IDs) > 0 {
		ids := uniq(p.IDs)
		for len(ids) > 0 {
			part := ids[:min(len(ids), chunk)]
			ids = ids[len(part):]
			n := 0
			err := b.tx(ctx, now, func(w *wtx) error {
				q := `SELECT ` + targetCols + ` FROM asyncmq_jobs WHERE id = ANY($1::text[])`
				args := []any{part}
				if p.Filter.Queue != "" {
					q += ` AND queue = $2`
					args = append(args, p.Filter.Queue)
				}
				ts, err := w.targets(q+` ORDER BY array_position($1::text[], id) FOR UPDATE`, args...)
				if err != nil {
					return err
				}
				n, err = w.apply(p.Action, ts)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("%s jobs: %w", p.Action, err)
			}
			total += n
		}
		return total, nil
	}

	states := []asyncmqtype.State{p.Filter.State}
	if p.Filter.State == "" {
		states = asyncmqtype.States
	}
	// Each state is walked in (created_at, id) order, the order of the listing index, resuming
	// after the last job seen; jobs the action moves to another state are not met again.
	for _, st := range states {
		f := p.Filter
		f.State = st
		cond, args := where(f, 3)
		q := `SELECT ` + targetCols + ` FROM asyncmq_jobs WHERE ` + cond +
			` AND ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2)) ORDER BY created_at, id LIMIT $3 FOR UPDATE`
		var afterAt *time.Time
		afterID := ""
		for {
			var ts []target
			n := 0
			err := b.tx(ctx, now, func(w *wtx) error {
				var err error
				if ts, err = w.targets(q, append([]any{afterAt, afterID, chunk}, args...)...); err != nil {
					return err
				}
				n, err = w.apply(p.Action, ts)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("%s jobs of queue %q: %w", p.Action, p.Filter.Queue, err)
			}
			total += n
			if len(ts) < chunk {
				break
			}
			last := ts[len(ts)-1]
			afterAt, afterID = &last.createdAt, last.id
		}
	}
	return total, nil
}

func (w *wtx) targets(q string, args ...any) ([]target, error) {
	rows, err := w.tx.Query(w.ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("select jobs: %w", err)
	}
	defer rows.Close()
	var out []target
	for rows.Next() {
		var t target
		var state string
		if err := rows.Scan(&t.id, &t.queue, &t.task, &state, &t.cancelRequested, &t.createdAt, &t.pendingDeps); err != nil {
			return nil, fmt.Errorf("select jobs: %w", err)
		}
		t.state = asyncmqtype.State(state)
		out = append(out, t)
	}
	return out, rows.Err()
}

const (
	qRetryIDs = `UPDATE asyncmq_jobs SET state = CASE WHEN pending_deps > 0 THEN 'waiting-children' ELSE 'waiting' END,
	attempts = 0, stalls = 0, run_at = $1,
	finished_at = NULL, result = NULL, progress = NULL, lease_token = '', lease_expires_at = NULL,
	cancel_requested = false
WHERE id = ANY($2::text[])`
	qCancelIDs        = `UPDATE asyncmq_jobs SET state = 'cancelled', finished_at = $1 WHERE id = ANY($2::text[])`
	qRequestCancelIDs = `UPDATE asyncmq_jobs SET cancel_requested = true WHERE id = ANY($1::text[])`
	qPromoteIDs       = `UPDATE asyncmq_jobs SET state = 'waiting', run_at = $1 WHERE id = ANY($2::text[])`
)

// apply performs action on the selected jobs for which it applies and returns how many changed.
// The jobs it cancels end their waiting children in the same transaction.
func (w *wtx) apply(action asyncmqtype.Action, ts []target) (int, error) {
	var change, remove, requestCancel []string
	var changed []target
	for _, t := range ts {
		switch {
		case action == asyncmqtype.ActionRetry && t.state.Terminal(),
			action == asyncmqtype.ActionCancel && (t.state == asyncmqtype.StateWaiting || t.state == asyncmqtype.StateWaitingChildren ||
				t.state == asyncmqtype.StateDelayed),
			action == asyncmqtype.ActionPromote && t.state == asyncmqtype.StateDelayed:
			change = append(change, t.id)
		case action == asyncmqtype.ActionRemove && t.state != asyncmqtype.StateActive:
			remove = append(remove, t.id)
		case (action == asyncmqtype.ActionRemove || action == asyncmqtype.ActionCancel) && t.state == asyncmqtype.StateActive && !t.cancelRequested:
			requestCancel = append(requestCancel, t.id)
		default:
			continue
		}
		changed = append(changed, t)
	}
	if len(changed) == 0 {
		return 0, nil
	}
	var err error
	if len(change) > 0 {
		switch action {
		case asyncmqtype.ActionRetry:
			err = w.exec(qRetryIDs, w.now, change)
		case asyncmqtype.ActionCancel:
			err = w.exec(qCancelIDs, w.now, change)
		case asyncmqtype.ActionPromote:
			err = w.exec(qPromoteIDs, w.now, change)
		}
	}
	if err == nil && len(requestCancel) > 0 {
		err = w.exec(qRequestCancelIDs, requestCancel)
	}
	if err == nil && len(remove) > 0 {
		_, err = w.deleteIDs(remove)
	}
	if err != nil {
		return 0, fmt.Errorf("%s jobs: %w", action, err)
	}
	var cancelled []string
	for _, t := range changed {
		e := asyncmqtype.Event{Queue: t.queue, JobID: t.id, Task: t.task}
		switch {
		case t.state == asyncmqtype.StateActive:
			e.Type, e.State, e.Detail = asyncmqtype.EventCancelled, asyncmqtype.StateActive, "cancel requested"
		case action == asyncmqtype.ActionRetry:
			e.Type, e.State, e.Detail = asyncmqtype.EventEnqueued, asyncmqtype.StateWaiting, "retried"
			if t.pendingDeps > 0 {
				e.State = asyncmqtype.StateWaitingChildren
			}
			w.wakeQueue(t.queue)
		case action == asyncmqtype.ActionCancel:
			e.Type, e.State = asyncmqtype.EventCancelled, asyncmqtype.StateCancelled
			cancelled = append(cancelled, t.id)
		case action == asyncmqtype.ActionPromote:
			e.Type, e.State, e.Detail = asyncmqtype.EventEnqueued, asyncmqtype.StateWaiting, "promoted"
			w.wakeQueue(t.queue)
		case action == asyncmqtype.ActionRemove:
			e.Type, e.State = asyncmqtype.EventRemoved, t.state
		}
		w.event(e)
	}
	return len(changed), w.parentsEnded(cancelled)
}
