package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// GetJob returns one job; asyncmqtype.ErrJobNotFound if unknown.
func (b *Backend) GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrClosed)
	}
	j, err := scanJob(b.queryRow(ctx, `SELECT `+jobCols+` FROM asyncmq_jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, b.fail(err))
	}
	return j, nil
}

// where builds the condition and arguments selecting f's jobs. The state condition is left out
// when f.State is empty.
func where(f asyncmqtype.JobFilter) (string, []any) {
	conds := []string{"queue = ?"}
	args := []any{f.Queue}
	if f.State != "" {
		conds = append(conds, "state = ?")
		args = append(args, string(f.State))
	}
	// instr rather than LIKE: the search text needs no escaping and may hold any character.
	// lower folds the case of ASCII letters only.
	if f.Task != "" {
		conds = append(conds, "instr(lower(task), lower(?)) > 0")
		args = append(args, f.Task)
	}
	if f.ID != "" {
		conds = append(conds, "instr(id, ?) > 0")
		args = append(args, f.ID)
	}
	if f.Text != "" {
		conds = append(conds, "instr(lower(payload), lower(?)) > 0")
		args = append(args, f.Text)
	}
	return strings.Join(conds, " AND "), args
}

const (
	targetCols   = `seq, id, queue, task, state, cancel_requested, created_at, pending_deps`
	qTargetsByID = `SELECT ` + targetCols + ` FROM asyncmq_jobs WHERE id IN (SELECT value FROM json_each(?))`
)

// targetsByFilter selects the next chunk of jobs matching cond, after a (created_at, id).
func targetsByFilter(cond string) string {
	return `SELECT ` + targetCols + ` FROM asyncmq_jobs WHERE ` + cond + ` AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`
}

type target struct {
	seq             int64
	id, queue, task string
	state           asyncmqtype.State
	cancelRequested bool
	createdAt       int64
	pendingDeps     int
}

// ApplyJobs applies a bulk action in transactions of at most 1,000 jobs, each job's change with
// its event in the same transaction. With IDs empty the filter must name a queue; an empty
// Filter.State then means every state. With IDs, only Filter.Queue is applied.
//
// Retry resets Attempts, Stalls and Result and keeps the error history; the retried job gets
// a job:enqueued event. Remove on an active job, and Cancel on an active job, set
// CancelRequested (a job:cancelled event in state active); a job whose cancellation was already
// requested is skipped.
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
			err := b.write(ctx, now, func(w *wtx) error {
				arg, err := jsonArg(part)
				if err != nil {
					return err
				}
				q := qTargetsByID
				args := []any{arg}
				if p.Filter.Queue != "" {
					q += ` AND queue = ?`
					args = append(args, p.Filter.Queue)
				}
				ts, err := w.targets(q, args...)
				if err != nil {
					return err
				}
				// Jobs named by ID are changed, and their events recorded, in the caller's order.
				pos := make(map[string]int, len(part))
				for i, id := range part {
					pos[id] = i
				}
				slices.SortFunc(ts, func(a, b target) int { return cmp.Compare(pos[a.id], pos[b.id]) })
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
		cond, args := where(f)
		q := targetsByFilter(cond)
		afterAt, afterID := int64(math.MinInt64), ""
		for {
			var ts []target
			n := 0
			err := b.write(ctx, now, func(w *wtx) error {
				var err error
				if ts, err = w.targets(q, append(args, afterAt, afterID, chunk)...); err != nil {
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
			afterAt, afterID = ts[len(ts)-1].createdAt, ts[len(ts)-1].id
		}
	}
	return total, nil
}

func (w *wtx) targets(q string, args ...any) ([]target, error) {
	rows, err := w.query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("select jobs: %w", err)
	}
	defer rows.Close()
	var out []target
	for rows.Next() {
		var t target
		var state string
		if err := rows.Scan(&t.seq, &t.id, &t.queue, &t.task, &state, &t.cancelRequested, &t.createdAt, &t.pendingDeps); err != nil {
			return nil, fmt.Errorf("select jobs: %w", err)
		}
		t.state = asyncmqtype.State(state)
		out = append(out, t)
	}
	return out, rows.Err()
}

const (
	qRetrySeqs = `UPDATE asyncmq_jobs SET state = CASE WHEN pending_deps > 0 THEN 'waiting-children' ELSE 'waiting' END,
	attempts = 0, stalls = 0, run_at = ?,
	finished_at = NULL, result = NULL, progress = NULL, lease_token = '', lease_expires_at = NULL,
	cancel_requested = 0
WHERE seq IN (SELECT value FROM json_each(?))`
	qCancelSeqs = `UPDATE asyncmq_jobs SET state = 'cancelled', finished_at = ?
WHERE seq IN (SELECT value FROM json_each(?))`
	qRequestCancelSeqs = `UPDATE asyncmq_jobs SET cancel_requested = 1 WHERE seq IN (SELECT value FROM json_each(?))`
	qPromoteSeqs       = `UPDATE asyncmq_jobs SET state = 'waiting', run_at = ? WHERE seq IN (SELECT value FROM json_each(?))`
)

// execSeqs runs q on the jobs numbered seqs, which it gets as a JSON array after args;
// with no seqs it does nothing.
func (w *wtx) execSeqs(q string, seqs []int64, args ...any) error {
	if len(seqs) == 0 {
		return nil
	}
	arg, err := jsonArg(seqs)
	if err != nil {
		return err
	}
	_, err = w.exec(q, append(args, arg)...)
	return err
}

// apply performs action on the selected jobs for which it applies and returns how many changed.
func (w *wtx) apply(action asyncmqtype.Action, ts []target) (int, error) {
	var change, remove, requestCancel []int64
	var changed []target
	for _, t := range ts {
		switch {
		case action == asyncmqtype.ActionRetry && t.state.Terminal(),
			action == asyncmqtype.ActionCancel && (t.state == asyncmqtype.StateWaiting || t.state == asyncmqtype.StateWaitingChildren ||
				t.state == asyncmqtype.StateDelayed),
			action == asyncmqtype.ActionPromote && t.state == asyncmqtype.StateDelayed:
			change = append(change, t.seq)
		case action == asyncmqtype.ActionRemove && t.state != asyncmqtype.StateActive:
			remove = append(remove, t.seq)
		case (action == asyncmqtype.ActionRemove || action == asyncmqtype.ActionCancel) && t.state == asyncmqtype.StateActive && !t.cancelRequested:
			requestCancel = append(requestCancel, t.seq)
		default:
			continue
		}
		changed = append(changed, t)
	}
	if len(changed) == 0 {
		return 0, nil
	}
	var err error
	switch action {
	case asyncmqtype.ActionRetry:
		err = w.execSeqs(qRetrySeqs, change, nanoInt(w.now))
	case asyncmqtype.ActionCancel:
		err = w.execSeqs(qCancelSeqs, change, nanoInt(w.now))
	case asyncmqtype.ActionPromote:
		err = w.execSeqs(qPromoteSeqs, change, nanoInt(w.now))
	}
	if err == nil {
		err = w.execSeqs(qRequestCancelSeqs, requestCancel)
	}
	if err != nil {
		return 0, fmt.Errorf("%s jobs: %w", action, err)
	}
	if len(remove) > 0 {
		if _, err := w.deleteSeqs(remove); err != nil {
			return 0, err
		}
	}
	var cancelled []endedJob
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
			w.count(t.queue, t.state, e.State)
		case action == asyncmqtype.ActionCancel:
			e.Type, e.State = asyncmqtype.EventCancelled, asyncmqtype.StateCancelled
			w.count(t.queue, t.state, asyncmqtype.StateCancelled)
			cancelled = append(cancelled, endedJob{t.id, asyncmqtype.StateCancelled})
		case action == asyncmqtype.ActionPromote:
			e.Type, e.State, e.Detail = asyncmqtype.EventEnqueued, asyncmqtype.StateWaiting, "promoted"
			w.count(t.queue, t.state, asyncmqtype.StateWaiting)
		case action == asyncmqtype.ActionRemove:
			// deleteSeqs has counted the job out.
			e.Type, e.State = asyncmqtype.EventRemoved, t.state
		}
		w.event(e)
	}
	return len(changed), w.parentsEnded(cancelled)
}
