package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const queueCols = `name, paused, rate_limit, rate_interval, waiting, active, delayed, completed, failed, cancelled,
	waiting_children`

func scanQueue(s scanner) (asyncmqtype.QueueInfo, error) {
	var (
		q        asyncmqtype.QueueInfo
		interval int64
		c        [numStates]int
	)
	if err := s.Scan(&q.Name, &q.Paused, &q.RateLimit, &interval, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]); err != nil {
		return q, err
	}
	q.RateInterval = time.Duration(interval)
	q.Counts = make(map[asyncmqtype.State]int, numStates)
	for _, s := range asyncmqtype.States {
		q.Counts[s] = c[stateIndex(s)]
	}
	return q, nil
}

// Queues lists the known queues with their counts, read from the counters table; the cost does
// not grow with the number of jobs. Every state is present in Counts, zero or not.
func (b *Backend) Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("list queues: %w", asyncmqtype.ErrClosed)
	}
	rows, err := b.query(ctx, `SELECT `+queueCols+` FROM asyncmq_queues ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.QueueInfo{}
	for rows.Next() {
		q, err := scanQueue(rows)
		if err != nil {
			return nil, fmt.Errorf("list queues: %w", err)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list queues: %w", b.fail(err))
	}
	return out, nil
}

// Queue returns one queue; asyncmqtype.ErrQueueNotFound if unknown.
func (b *Backend) Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error) {
	if b.closed.Load() {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, asyncmqtype.ErrClosed)
	}
	q, err := scanQueue(b.queryRow(ctx, `SELECT `+queueCols+` FROM asyncmq_queues WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	if err != nil {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, b.fail(err))
	}
	return q, nil
}

// SetQueuePaused pauses or resumes a queue; an unknown queue becomes known. Claims in every
// process see the change at their next transaction.
func (b *Backend) SetQueuePaused(ctx context.Context, queue string, paused bool) error {
	what := "resume"
	if paused {
		what = "pause"
	}
	if err := backend.ValidatePause(queue); err != nil {
		return err
	}
	err := b.write(ctx, b.now(), func(w *wtx) error {
		if _, err := w.exec(`INSERT INTO asyncmq_queues (name, paused) VALUES (?1, ?2)
ON CONFLICT (name) DO UPDATE SET paused = ?2`, queue, paused); err != nil {
			return err
		}
		w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, Detail: what + "d"})
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s queue %q: %w", what, queue, err)
	}
	return nil
}

// SetRateLimit sets or (Limit 0) removes a queue's rate limit; an unknown queue becomes known.
func (b *Backend) SetRateLimit(ctx context.Context, p backend.RateLimitParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Limit == 0 {
		p.Interval = 0
	}
	err := b.write(ctx, b.now(), func(w *wtx) error {
		_, err := w.exec(`INSERT INTO asyncmq_queues (name, rate_limit, rate_interval) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET rate_limit = ?2, rate_interval = ?3, rate_window_start = 0, rate_window_count = 0`,
			p.Queue, p.Limit, int64(p.Interval))
		return err
	})
	if err != nil {
		return fmt.Errorf("set rate limit of queue %q: %w", p.Queue, err)
	}
	return nil
}

// known reports whether queue has a row, inside a write transaction.
func (w *wtx) known(queue string) (bool, error) {
	var n int
	err := w.queryRow(`SELECT 1 FROM asyncmq_queues WHERE name = ?`, queue).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

var (
	qDeleteSeqs   = `DELETE FROM asyncmq_jobs WHERE seq IN (SELECT value FROM json_each(?)) RETURNING queue, state`
	qDrainPick    = `SELECT seq FROM asyncmq_jobs WHERE queue = ? AND state IN ('waiting', 'waiting-children') LIMIT ?`
	qDrainPickAll = `SELECT seq FROM asyncmq_jobs WHERE queue = ? AND state IN ('waiting', 'waiting-children', 'delayed') LIMIT ?`
	// qCleanKept finds the oldest of the jobs Clean keeps.
	qCleanKept = `SELECT finished_at, id FROM asyncmq_jobs
WHERE queue = ? AND state = ? AND finished_at IS NOT NULL
ORDER BY finished_at DESC, id DESC LIMIT 1 OFFSET ?`
	qCleanPick = `SELECT seq FROM asyncmq_jobs
WHERE queue = ? AND state = ? AND finished_at IS NOT NULL AND finished_at < ? AND (finished_at, id) < (?, ?)
ORDER BY finished_at, id LIMIT ?`
	qQueuePick = `SELECT seq FROM asyncmq_jobs WHERE queue = ? LIMIT ?`
)

// deleteSeqs deletes jobs by seq and counts them out of their queues.
func (w *wtx) deleteSeqs(seqs []int64) (int, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	arg, err := jsonArg(seqs)
	if err != nil {
		return 0, err
	}
	rows, err := w.query(qDeleteSeqs, arg)
	if err != nil {
		return 0, fmt.Errorf("delete jobs: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var queue, state string
		if err := rows.Scan(&queue, &state); err != nil {
			return n, fmt.Errorf("delete jobs: %w", err)
		}
		w.count(queue, asyncmqtype.State(state), "")
		n++
	}
	return n, rows.Err()
}

// seqs runs a query selecting one seq column.
func (w *wtx) seqs(q string, args ...any) ([]int64, error) {
	rows, err := w.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Drain deletes the waiting (and, with includeDelayed, delayed) jobs of a queue in
// transactions of at most 1,000 jobs, and records one queue:changed event when it deleted any.
// Jobs enqueued while it runs may survive. An unknown queue gets asyncmqtype.ErrQueueNotFound.
func (b *Backend) Drain(ctx context.Context, queue string, includeDelayed bool) (int, error) {
	q := qDrainPick
	if includeDelayed {
		q = qDrainPickAll
	}
	total := 0
	for first := true; ; first = false {
		n := 0
		err := b.write(ctx, b.now(), func(w *wtx) error {
			n = 0
			if first {
				ok, err := w.known(queue)
				if err != nil {
					return err
				}
				if !ok {
					return asyncmqtype.ErrQueueNotFound
				}
			}
			seqs, err := w.seqs(q, queue, chunk)
			if err != nil {
				return fmt.Errorf("select jobs: %w", err)
			}
			if len(seqs) == 0 {
				if total > 0 {
					w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, Detail: "drained"})
				}
				return nil
			}
			n, err = w.deleteSeqs(seqs)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("drain queue %q: %w", queue, err)
		}
		if n == 0 {
			return total, nil
		}
	}
}

// Clean deletes terminal jobs of p.State finished before p.OlderThan, oldest first, keeping the
// newest p.Keep of that state, at most p.Limit (0 = no limit), in transactions of at most 1,000
// jobs, and records one queue:changed event when it deleted any. A zero OlderThan means no age
// condition.
func (b *Backend) Clean(ctx context.Context, p backend.CleanParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	before := int64(math.MaxInt64)
	if !p.OlderThan.IsZero() {
		before = nanoInt(p.OlderThan)
	}
	// The kept jobs are fixed in the first transaction: nothing at or after the Keep-th newest
	// (finished_at, id) goes, whatever later chunks delete.
	keepAt, keepID := int64(math.MaxInt64), ""
	total := 0
	for first := true; ; first = false {
		n := 0
		err := b.write(ctx, b.now(), func(w *wtx) error {
			n = 0
			if first {
				ok, err := w.known(p.Queue)
				if err != nil {
					return err
				}
				if !ok {
					return asyncmqtype.ErrQueueNotFound
				}
				if p.Keep > 0 {
					err := w.queryRow(qCleanKept, p.Queue, string(p.State), p.Keep-1).Scan(&keepAt, &keepID)
					if errors.Is(err, sql.ErrNoRows) {
						keepAt, keepID = math.MinInt64, ""
					} else if err != nil {
						return err
					}
				}
			}
			limit := chunk
			if p.Limit > 0 {
				limit = min(chunk, p.Limit-total)
			}
			seqs, err := w.seqs(qCleanPick, p.Queue, string(p.State), before, keepAt, keepID, limit)
			if err != nil {
				return fmt.Errorf("select jobs: %w", err)
			}
			if n, err = w.deleteSeqs(seqs); err != nil {
				return err
			}
			if total+n > 0 && (n < limit || p.Limit > 0 && total+n >= p.Limit) {
				w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: p.Queue, Detail: "cleaned"})
			}
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("clean %s jobs of queue %q: %w", p.State, p.Queue, err)
		}
		if n < chunk || p.Limit > 0 && total >= p.Limit {
			return total, nil
		}
	}
}

// Obliterate deletes a queue with its jobs, settings and repeatables, in transactions of at
// most 1,000 jobs; the queue itself goes in the last one. Its metrics and events stay as
// history. It refuses with asyncmqtype.ErrQueueActive while jobs are active, unless force.
func (b *Backend) Obliterate(ctx context.Context, queue string, force bool) error {
	for first := true; ; first = false {
		done := false
		err := b.write(ctx, b.now(), func(w *wtx) error {
			done = false
			var active int
			err := w.queryRow(`SELECT active FROM asyncmq_queues WHERE name = ?`, queue).Scan(&active)
			if errors.Is(err, sql.ErrNoRows) {
				if first {
					return asyncmqtype.ErrQueueNotFound
				}
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			if first && active > 0 && !force {
				return fmt.Errorf("%d active jobs: %w", active, asyncmqtype.ErrQueueActive)
			}
			seqs, err := w.seqs(qQueuePick, queue, chunk)
			if err != nil {
				return fmt.Errorf("select jobs: %w", err)
			}
			if _, err := w.deleteSeqs(seqs); err != nil {
				return err
			}
			if len(seqs) == chunk {
				return nil
			}
			if _, err := w.exec(`DELETE FROM asyncmq_repeatables WHERE queue = ?`, queue); err != nil {
				return fmt.Errorf("delete repeatables: %w", err)
			}
			if _, err := w.exec(`DELETE FROM asyncmq_queues WHERE name = ?`, queue); err != nil {
				return fmt.Errorf("delete queue: %w", err)
			}
			delete(w.counts, queue)
			w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, Detail: "obliterated"})
			done = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("obliterate queue %q: %w", queue, err)
		}
		if done {
			return nil
		}
	}
}
