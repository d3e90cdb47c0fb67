package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

const repeatableCols = `id, queue, task, payload, cron, "interval", priority, max_retries, paused, next_run, last_run, created_at`

func scanRepeatable(s pgx.Row) (asyncmqtype.Repeatable, error) {
	var (
		r          asyncmqtype.Repeatable
		payload    []byte
		interval   int64
		next, last *time.Time
		created    time.Time
	)
	if err := s.Scan(&r.ID, &r.Queue, &r.Task, &payload, &r.Cron, &interval, &r.Priority, &r.MaxRetries, &r.Paused, &next, &last, &created); err != nil {
		return r, err
	}
	if payload != nil {
		r.Payload = json.RawMessage(payload)
	}
	r.Interval = time.Duration(interval)
	r.NextRun, r.LastRun, r.CreatedAt = utc(next), utc(last), created.UTC()
	return r, nil
}

// UpsertRepeatable creates or replaces a definition by ID; its queue becomes known. Replacing
// keeps the original CreatedAt; a zero CreatedAt on a new definition means now.
func (b *Backend) UpsertRepeatable(ctx context.Context, r asyncmqtype.Repeatable) error {
	if err := backend.ValidateRepeatable(r); err != nil {
		return err
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, err)
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = b.now()
	}
	_, err := b.pool.Exec(ctx, `WITH up AS (
	INSERT INTO asyncmq_repeatables (`+repeatableCols+`)
	VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12)
	ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, task = excluded.task, payload = excluded.payload,
		cron = excluded.cron, "interval" = excluded."interval", priority = excluded.priority,
		max_retries = excluded.max_retries, paused = excluded.paused, next_run = excluded.next_run,
		last_run = excluded.last_run,
		created_at = CASE WHEN $13 THEN excluded.created_at ELSE asyncmq_repeatables.created_at END
)
INSERT INTO asyncmq_queues (name) VALUES ($2) ON CONFLICT DO NOTHING`,
		r.ID, r.Queue, r.Task, jsonText(r.Payload), r.Cron, int64(r.Interval), r.Priority, r.MaxRetries, r.Paused,
		nullTime(r.NextRun), nullTime(r.LastRun), created.UTC(), !r.CreatedAt.IsZero())
	if err != nil {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, b.fail(err))
	}
	return nil
}

func (b *Backend) repeatables(ctx context.Context, q string, args ...any) ([]asyncmqtype.Repeatable, error) {
	rows, err := b.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []asyncmqtype.Repeatable{}
	for rows.Next() {
		r, err := scanRepeatable(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Repeatables lists the definitions of a queue ("" for all), sorted by queue then ID.
func (b *Backend) Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("list repeatables: %w", err)
	}
	out, err := b.repeatables(ctx, `SELECT `+repeatableCols+` FROM asyncmq_repeatables
WHERE $1 = '' OR queue = $1 ORDER BY queue, id`, queue)
	if err != nil {
		return nil, fmt.Errorf("list repeatables: %w", b.fail(err))
	}
	return out, nil
}

// GetRepeatable returns one definition; asyncmqtype.ErrRepeatableNotFound if unknown.
func (b *Backend) GetRepeatable(ctx context.Context, id string) (asyncmqtype.Repeatable, error) {
	if err := b.open(ctx); err != nil {
		return asyncmqtype.Repeatable{}, fmt.Errorf("get repeatable %q: %w", id, err)
	}
	r, err := scanRepeatable(b.pool.QueryRow(ctx, `SELECT `+repeatableCols+` FROM asyncmq_repeatables WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("get repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("get repeatable %q: %w", id, b.fail(err))
	}
	return r, nil
}

// SetRepeatablePaused pauses or resumes a definition; asyncmqtype.ErrRepeatableNotFound if unknown.
func (b *Backend) SetRepeatablePaused(ctx context.Context, id string, paused bool) error {
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("set repeatable %q paused=%t: %w", id, paused, err)
	}
	tag, err := b.pool.Exec(ctx, `UPDATE asyncmq_repeatables SET paused = $1 WHERE id = $2`, paused, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = asyncmqtype.ErrRepeatableNotFound
	}
	if err != nil {
		return fmt.Errorf("set repeatable %q paused=%t: %w", id, paused, b.fail(err))
	}
	return nil
}

// RemoveRepeatable deletes a definition; asyncmqtype.ErrRepeatableNotFound if unknown. Jobs it
// created stay.
func (b *Backend) RemoveRepeatable(ctx context.Context, id string) error {
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("remove repeatable %q: %w", id, err)
	}
	tag, err := b.pool.Exec(ctx, `DELETE FROM asyncmq_repeatables WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = asyncmqtype.ErrRepeatableNotFound
	}
	if err != nil {
		return fmt.Errorf("remove repeatable %q: %w", id, b.fail(err))
	}
	return nil
}

// DueRepeatables lists unpaused definitions whose NextRun <= now, sorted by NextRun then ID.
func (b *Backend) DueRepeatables(ctx context.Context, now time.Time) ([]asyncmqtype.Repeatable, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("list due repeatables: %w", err)
	}
	out, err := b.repeatables(ctx, `SELECT `+repeatableCols+` FROM asyncmq_repeatables
WHERE NOT paused AND next_run <= $1 ORDER BY next_run, id`, b.clock(now))
	if err != nil {
		return nil, fmt.Errorf("list due repeatables: %w", b.fail(err))
	}
	return out, nil
}

// FireRepeatable enqueues p.Job and moves the definition's NextRun from p.Expected to p.Next in
// one transaction that locks the definition's row, so of concurrent firings exactly one wins;
// the others get asyncmqtype.ErrConflict, as does a paused definition. The job's RepeatableID
// defaults to p.ID. If the job cannot be enqueued (a live unique key, say), nothing changes and
// the enqueue error is returned.
func (b *Backend) FireRepeatable(ctx context.Context, p backend.FireParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	job := *p.Job
	if job.RepeatableID == "" {
		job.RepeatableID = p.ID
	}
	now := b.clock(p.Now)
	err := b.tx(ctx, now, func(w *wtx) error {
		var next *time.Time
		var paused bool
		err := w.tx.QueryRow(ctx, `SELECT next_run, paused FROM asyncmq_repeatables WHERE id = $1 FOR UPDATE`, p.ID).Scan(&next, &paused)
		if errors.Is(err, pgx.ErrNoRows) {
			return asyncmqtype.ErrRepeatableNotFound
		}
		if err != nil {
			return err
		}
		if paused {
			return fmt.Errorf("paused: %w", asyncmqtype.ErrConflict)
		}
		if !utc(next).Equal(p.Expected) {
			return fmt.Errorf("next run is %s, not %s: %w", utc(next).Format(time.RFC3339Nano), p.Expected.UTC().Format(time.RFC3339Nano), asyncmqtype.ErrConflict)
		}
		if _, err := insert(ctx, &txExecer{w.tx}, []*asyncmqtype.JobInfo{&job}, now); err != nil {
			return err
		}
		for _, q := range runnableQueues([]*asyncmqtype.JobInfo{&job}, now) {
			w.wakeQueue(q)
		}
		return w.exec(`UPDATE asyncmq_repeatables SET next_run = $1, last_run = $2 WHERE id = $3`, nullTime(p.Next), now, p.ID)
	})
	if err != nil {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	return nil
}
