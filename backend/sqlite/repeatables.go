package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const repeatableCols = `id, queue, task, payload, cron, interval, priority, max_retries, paused, next_run, last_run, created_at`

func scanRepeatable(s scanner) (asyncmqtype.Repeatable, error) {
	var (
		r                 asyncmqtype.Repeatable
		payload           []byte
		interval, created int64
		next, last        sql.NullInt64
	)
	if err := s.Scan(&r.ID, &r.Queue, &r.Task, &payload, &r.Cron, &interval, &r.Priority, &r.MaxRetries, &r.Paused, &next, &last, &created); err != nil {
		return r, err
	}
	if payload != nil {
		r.Payload = json.RawMessage(payload)
	}
	r.Interval = time.Duration(interval)
	r.NextRun = fromNull(next)
	r.LastRun = fromNull(last)
	r.CreatedAt = fromNanos(created)
	return r, nil
}

// UpsertRepeatable creates or replaces a definition by ID; its queue becomes known. Replacing
// keeps the original CreatedAt; a zero CreatedAt on a new definition means now.
func (b *Backend) UpsertRepeatable(ctx context.Context, r asyncmqtype.Repeatable) error {
	if err := backend.ValidateRepeatable(r); err != nil {
		return err
	}
	err := b.write(ctx, b.now(), func(w *wtx) error {
		created := r.CreatedAt
		if created.IsZero() {
			created = w.now
		}
		if _, err := w.exec(`INSERT INTO asyncmq_repeatables (`+repeatableCols+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, task = excluded.task, payload = excluded.payload,
	cron = excluded.cron, interval = excluded.interval, priority = excluded.priority,
	max_retries = excluded.max_retries, paused = excluded.paused, next_run = excluded.next_run,
	last_run = excluded.last_run`,
			r.ID, r.Queue, r.Task, text(r.Payload), r.Cron, int64(r.Interval), r.Priority, r.MaxRetries, r.Paused,
			nanos(r.NextRun), nanos(r.LastRun), nanoInt(created)); err != nil {
			return err
		}
		w.touch(r.Queue)
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, err)
	}
	return nil
}

// Repeatables lists the definitions of a queue ("" for all), sorted by queue then ID.
func (b *Backend) Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("list repeatables: %w", asyncmqtype.ErrClosed)
	}
	rows, err := b.query(ctx, `SELECT `+repeatableCols+` FROM asyncmq_repeatables
WHERE ?1 = '' OR queue = ?1 ORDER BY queue, id`, queue)
	if err != nil {
		return nil, fmt.Errorf("list repeatables: %w", b.fail(err))
	}
	return collectRepeatables(rows)
}

func collectRepeatables(rows *sql.Rows) ([]asyncmqtype.Repeatable, error) {
	defer rows.Close()
	out := []asyncmqtype.Repeatable{}
	for rows.Next() {
		r, err := scanRepeatable(rows)
		if err != nil {
			return nil, fmt.Errorf("list repeatables: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list repeatables: %w", err)
	}
	return out, nil
}

// GetRepeatable returns one definition; asyncmqtype.ErrRepeatableNotFound if unknown.
func (b *Backend) GetRepeatable(ctx context.Context, id string) (asyncmqtype.Repeatable, error) {
	if b.closed.Load() {
		return asyncmqtype.Repeatable{}, fmt.Errorf("get repeatable %q: %w", id, asyncmqtype.ErrClosed)
	}
	r, err := scanRepeatable(b.queryRow(ctx, `SELECT `+repeatableCols+` FROM asyncmq_repeatables WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("get repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("get repeatable %q: %w", id, b.fail(err))
	}
	return r, nil
}

// SetRepeatablePaused pauses or resumes a definition; asyncmqtype.ErrRepeatableNotFound if unknown.
func (b *Backend) SetRepeatablePaused(ctx context.Context, id string, paused bool) error {
	err := b.write(ctx, b.now(), func(w *wtx) error {
		res, err := w.exec(`UPDATE asyncmq_repeatables SET paused = ? WHERE id = ?`, paused, id)
		return affected(res, err, asyncmqtype.ErrRepeatableNotFound)
	})
	if err != nil {
		return fmt.Errorf("set repeatable %q paused=%t: %w", id, paused, err)
	}
	return nil
}

// RemoveRepeatable deletes a definition; asyncmqtype.ErrRepeatableNotFound if unknown. Jobs it
// created stay.
func (b *Backend) RemoveRepeatable(ctx context.Context, id string) error {
	err := b.write(ctx, b.now(), func(w *wtx) error {
		res, err := w.exec(`DELETE FROM asyncmq_repeatables WHERE id = ?`, id)
		return affected(res, err, asyncmqtype.ErrRepeatableNotFound)
	})
	if err != nil {
		return fmt.Errorf("remove repeatable %q: %w", id, err)
	}
	return nil
}

// affected turns an Exec that changed no row into notFound.
func affected(res sql.Result, err, notFound error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// DueRepeatables lists unpaused definitions whose NextRun <= now, sorted by NextRun then ID.
func (b *Backend) DueRepeatables(ctx context.Context, now time.Time) ([]asyncmqtype.Repeatable, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("list due repeatables: %w", asyncmqtype.ErrClosed)
	}
	rows, err := b.query(ctx, `SELECT `+repeatableCols+` FROM asyncmq_repeatables
WHERE NOT paused AND next_run <= ? ORDER BY next_run, id`, nanoInt(b.clock(now)))
	if err != nil {
		return nil, fmt.Errorf("list due repeatables: %w", b.fail(err))
	}
	return collectRepeatables(rows)
}

// FireRepeatable enqueues p.Job and moves the definition's NextRun from p.Expected to p.Next in
// one transaction; asyncmqtype.ErrConflict when NextRun is no longer p.Expected or the definition
// was paused meanwhile. The job's
// RepeatableID defaults to p.ID. If the job cannot be enqueued (a live unique key, say), nothing
// changes and the enqueue error is returned.
func (b *Backend) FireRepeatable(ctx context.Context, p backend.FireParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	job := *p.Job
	if job.RepeatableID == "" {
		job.RepeatableID = p.ID
	}
	err := b.write(ctx, b.clock(p.Now), func(w *wtx) error {
		var next sql.NullInt64
		var paused bool
		err := w.queryRow(`SELECT next_run, paused FROM asyncmq_repeatables WHERE id = ?`, p.ID).Scan(&next, &paused)
		if errors.Is(err, sql.ErrNoRows) {
			return asyncmqtype.ErrRepeatableNotFound
		}
		if err != nil {
			return err
		}
		if paused {
			return fmt.Errorf("paused: %w", asyncmqtype.ErrConflict)
		}
		if !fromNull(next).Equal(p.Expected) {
			return fmt.Errorf("next run is %s, not %s: %w", fromNull(next).Format(time.RFC3339Nano), p.Expected.UTC().Format(time.RFC3339Nano), asyncmqtype.ErrConflict)
		}
		if _, err := w.enqueue([]*asyncmqtype.JobInfo{&job}); err != nil {
			return err
		}
		_, err = w.exec(`UPDATE asyncmq_repeatables SET next_run = ?, last_run = ? WHERE id = ?`, nanos(p.Next), nanoInt(w.now), p.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	return nil
}
