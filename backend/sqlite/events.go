package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

const qEvents = `SELECT id, type, queue, job_id, task, state, at, detail FROM asyncmq_events
WHERE id > ?1 AND (?2 = '' OR queue = ?2) ORDER BY id LIMIT ?3`

var qMetrics = `SELECT queue, minute, completed, failed, retried, duration_sum, wait_sum, started, ` + strings.Join(durationCols[:], ", ") + `
FROM asyncmq_metrics WHERE minute >= ?1 AND minute <= ?2 AND (?3 = '' OR queue = ?3) ORDER BY minute, queue`

// Events returns the events with ID > p.AfterID, oldest first, at most p.Limit (0 means all).
// Only the newest events are kept (see EventRetention), so a reader that falls further behind
// finds a gap in the IDs.
func (b *Backend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("read events: %w", asyncmqtype.ErrClosed)
	}
	switch {
	case p.Limit < 0:
		return nil, fmt.Errorf("read events: negative limit %d: %w", p.Limit, asyncmqtype.ErrInvalid)
	case p.Limit == 0:
		p.Limit = -1 // SQLite's LIMIT -1 is no limit.
	}
	rows, err := b.query(ctx, qEvents, p.AfterID, p.Queue, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", p.AfterID, b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.Event{}
	for rows.Next() {
		var (
			e          asyncmqtype.Event
			typ, state string
			at         int64
		)
		if err := rows.Scan(&e.ID, &typ, &e.Queue, &e.JobID, &e.Task, &state, &at, &e.Detail); err != nil {
			return nil, fmt.Errorf("read events after %d: %w", p.AfterID, err)
		}
		e.Type, e.State, e.At = asyncmqtype.EventType(typ), asyncmqtype.State(state), fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events after %d: %w", p.AfterID, b.fail(err))
	}
	return out, nil
}

// LastEventID returns the ID of the newest event, 0 when there is none.
func (b *Backend) LastEventID(ctx context.Context) (int64, error) {
	if b.closed.Load() {
		return 0, fmt.Errorf("read last event ID: %w", asyncmqtype.ErrClosed)
	}
	var id int64
	if err := b.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM asyncmq_events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("read last event ID: %w", b.fail(err))
	}
	return id, nil
}

// Metrics returns the per-minute buckets whose minute lies in [Since truncated to the minute,
// Until], sorted by minute then queue. A zero Until means no upper bound.
func (b *Backend) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("read metrics: %w", asyncmqtype.ErrClosed)
	}
	since := int64(minNanoTime.UnixNano())
	if !p.Since.IsZero() {
		since = nanoInt(p.Since.Truncate(time.Minute))
	}
	until := int64(maxNanoTime.UnixNano())
	if !p.Until.IsZero() {
		until = nanoInt(p.Until)
	}
	rows, err := b.query(ctx, qMetrics, since, until, p.Queue)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.MetricBucket{}
	for rows.Next() {
		var (
			m                 asyncmqtype.MetricBucket
			minute, dur, wait int64
		)
		m.DurationCounts = make([]int64, len(durationCols))
		dest := []any{&m.Queue, &minute, &m.Completed, &m.Failed, &m.Retried, &dur, &wait, &m.Started}
		for i := range m.DurationCounts {
			dest = append(dest, &m.DurationCounts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read metrics: %w", err)
		}
		m.Minute, m.DurationSum, m.WaitSum = fromNanos(minute), time.Duration(dur), time.Duration(wait)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", b.fail(err))
	}
	return out, nil
}
