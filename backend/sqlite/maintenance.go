package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// chunk bounds the rows one maintenance or bulk transaction changes, so that the write lock is
// never held long enough to stall the workers' claims.
const chunk = 1000

var qPromote = `UPDATE asyncmq_jobs SET state = 'waiting'
WHERE seq IN (SELECT seq FROM asyncmq_jobs WHERE state = 'delayed' AND run_at <= ? ORDER BY run_at, id LIMIT ?)
RETURNING id, queue, task, run_at`

// Maintenance runs every second or so in every worker process; when there is nothing to do, a
// read says so without taking the write lock.
const (
	qAnyDue     = `SELECT 1 FROM asyncmq_jobs WHERE state = 'delayed' AND run_at <= ? LIMIT 1`
	qAnyStalled = `SELECT 1 FROM asyncmq_jobs WHERE state = 'active' AND lease_expires_at < ? LIMIT 1`
)

// any reports whether q, a query for one row, finds one.
func (b *Backend) any(ctx context.Context, q string, args ...any) (bool, error) {
	var one int
	err := b.queryRow(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, b.fail(err)
}

// PromoteDue moves due delayed jobs to waiting, earliest RunAt first and at most p.Limit (0 = all),
// in transactions of at most 1,000 jobs, and records a job:enqueued event (detail "promoted")
// for each.
func (b *Backend) PromoteDue(ctx context.Context, p backend.PromoteParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	now := b.clock(p.Now)
	if due, err := b.any(ctx, qAnyDue, nanoInt(now)); err != nil || !due {
		if err != nil {
			return 0, fmt.Errorf("promote due delayed jobs: %w", err)
		}
		return 0, nil
	}
	total := 0
	for {
		want := chunk
		if p.Limit > 0 {
			want = min(chunk, p.Limit-total)
		}
		n := 0
		err := b.write(ctx, now, func(w *wtx) error {
			type promoted struct {
				id, queue, task string
				runAt           int64
			}
			var ps []promoted
			rows, err := w.query(qPromote, nanoInt(w.now), want)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var j promoted
				if err := rows.Scan(&j.id, &j.queue, &j.task, &j.runAt); err != nil {
					return err
				}
				ps = append(ps, j)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			// The events go in the order the jobs became due.
			slices.SortFunc(ps, func(a, b promoted) int { return cmp.Or(cmp.Compare(a.runAt, b.runAt), strings.Compare(a.id, b.id)) })
			for _, j := range ps {
				w.count(j.queue, asyncmqtype.StateDelayed, asyncmqtype.StateWaiting)
				w.event(asyncmqtype.Event{Type: asyncmqtype.EventEnqueued, Queue: j.queue, JobID: j.id, Task: j.task, State: asyncmqtype.StateWaiting, Detail: "promoted"})
			}
			n = len(ps)
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("promote due delayed jobs: %w", err)
		}
		if n < want || total == p.Limit {
			return total, nil
		}
	}
}

var (
	qStalled = `SELECT seq, id, queue, task, stalls, cancel_requested FROM asyncmq_jobs
WHERE state = 'active' AND lease_expires_at < ? ORDER BY lease_expires_at, id LIMIT ?`
	qStallRequeue = `UPDATE asyncmq_jobs SET state = 'waiting', stalls = stalls + 1,
	lease_token = '', lease_expires_at = NULL
WHERE seq IN (SELECT value FROM json_each(?))`
	qStallFail = `UPDATE asyncmq_jobs SET state = 'failed', stalls = stalls + 1, finished_at = ?1,
	lease_token = '', lease_expires_at = NULL, cancel_requested = 0,
	errors = json_insert(coalesce(errors, '[]'), '$[#]', json_object(
		'attempt', attempts, 'at', ?2, 'error', 'job stalled: its lease expired ' || (stalls + 1) || ' times'))
WHERE seq IN (SELECT value FROM json_each(?3))`
	qStallCancel = `UPDATE asyncmq_jobs SET state = 'cancelled', stalls = stalls + 1, finished_at = ?,
	lease_token = '', lease_expires_at = NULL, cancel_requested = 0
WHERE seq IN (SELECT value FROM json_each(?))`
)

// RecoverStalled re-queues or fails active jobs whose lease expired before p.Now, in
// transactions of at most 1,000 jobs; p.Limit 0 means no limit. A stalled job whose
// cancellation was requested ends cancelled (and is in neither list of the result). A re-queued
// job gets a job:stalled event, a failed one a job:failed event.
func (b *Backend) RecoverStalled(ctx context.Context, p backend.RecoverParams) (backend.RecoverResult, error) {
	if err := p.Validate(); err != nil {
		return backend.RecoverResult{}, err
	}
	now := b.clock(p.Now)
	var res backend.RecoverResult
	if stalled, err := b.any(ctx, qAnyStalled, nanoInt(now)); err != nil || !stalled {
		if err != nil {
			return res, fmt.Errorf("recover stalled jobs: %w", err)
		}
		return res, nil
	}
	for {
		want := chunk
		if p.Limit > 0 {
			want = min(chunk, p.Limit-len(res.Requeued)-len(res.Failed))
		}
		var part backend.RecoverResult
		n := 0
		err := b.write(ctx, now, func(w *wtx) error {
			part, n = backend.RecoverResult{}, 0
			var err error
			n, err = w.recoverStalled(want, p.MaxStalls, &part)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("recover stalled jobs: %w", err)
		}
		res.Requeued = append(res.Requeued, part.Requeued...)
		res.Failed = append(res.Failed, part.Failed...)
		if n < want || p.Limit > 0 && len(res.Requeued)+len(res.Failed) >= p.Limit {
			return res, nil
		}
	}
}

func (w *wtx) recoverStalled(limit, maxStalls int, res *backend.RecoverResult) (int, error) {
	rows, err := w.query(qStalled, nanoInt(w.now), limit)
	if err != nil {
		return 0, err
	}
	type stalled struct {
		seq             int64
		id, queue, task string
		stalls          int
		cancelRequested bool
		state           asyncmqtype.State
	}
	var found []stalled
	for rows.Next() {
		var s stalled
		if err := rows.Scan(&s.seq, &s.id, &s.queue, &s.task, &s.stalls, &s.cancelRequested); err != nil {
			rows.Close()
			return 0, err
		}
		found = append(found, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var requeue, fail, cancel []int64
	for i := range found {
		s := &found[i]
		switch {
		case s.cancelRequested:
			s.state = asyncmqtype.StateCancelled
			cancel = append(cancel, s.seq)
		case s.stalls+1 > maxStalls:
			s.state = asyncmqtype.StateFailed
			fail = append(fail, s.seq)
			res.Failed = append(res.Failed, s.id)
		default:
			s.state = asyncmqtype.StateWaiting
			requeue = append(requeue, s.seq)
			res.Requeued = append(res.Requeued, s.id)
		}
	}
	if err := w.execSeqs(qStallRequeue, requeue); err != nil {
		return 0, err
	}
	if err := w.execSeqs(qStallFail, fail, nanoInt(w.now), w.now.Format(time.RFC3339Nano)); err != nil {
		return 0, err
	}
	if err := w.execSeqs(qStallCancel, cancel, nanoInt(w.now)); err != nil {
		return 0, err
	}
	for _, s := range found {
		w.count(s.queue, asyncmqtype.StateActive, s.state)
		e := asyncmqtype.Event{Type: asyncmqtype.EventStalled, Queue: s.queue, JobID: s.id, Task: s.task, State: s.state}
		switch s.state {
		case asyncmqtype.StateFailed:
			e.Type, e.Detail = asyncmqtype.EventFailed, fmt.Sprintf("job stalled: its lease expired %d times", s.stalls+1)
			w.metric(s.queue, s.task).failed++
		case asyncmqtype.StateCancelled:
			e.Type = asyncmqtype.EventCancelled
		}
		w.event(e)
	}
	var ended []endedJob
	for _, s := range found {
		if s.state != asyncmqtype.StateWaiting {
			ended = append(ended, endedJob{s.id, s.state})
		}
	}
	return len(found), w.parentsEnded(ended)
}
