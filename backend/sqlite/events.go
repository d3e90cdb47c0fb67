package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const qEvents = `SELECT id, type, queue, job_id, task, state, at, detail FROM asyncmq_events
WHERE id > ?1 AND (?2 = '' OR queue = ?2) ORDER BY id LIMIT ?3`

const qRecentEvents = `SELECT id, type, queue, job_id, task, state, at, detail FROM asyncmq_events
WHERE ?1 = '' OR queue = ?1 ORDER BY id DESC LIMIT ?2`

// qMetrics sums the per-task rows of each queue and minute (migration 0008), the row with the
// empty task name included: it holds what minutes from before per-task rows counted. The rows
// of every queue are found through the minute index, those of one queue through the primary key.
var (
	qMetrics = `SELECT queue, '', minute, ` + metricSums + `
FROM asyncmq_task_metrics WHERE minute >= ?1 AND minute <= ?2
GROUP BY minute, queue ORDER BY minute, queue`
	qQueueMetrics = `SELECT queue, '', minute, ` + metricSums + `
FROM asyncmq_task_metrics WHERE queue = ?3 AND minute >= ?1 AND minute <= ?2
GROUP BY minute ORDER BY minute`
	metricSums = sumCols("completed", "failed", "retried", "duration_sum", "wait_sum", "started") + `, ` + sumCols(durationCols[:]...)
)

// sumCols is "sum(c1), sum(c2), ..." for the columns cols.
func sumCols(cols ...string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = "sum(" + c + ")"
	}
	return strings.Join(out, ", ")
}

// qTaskMetrics reads per-task buckets of the ?5 (queue, task) pairs with the most attempts in
// the window: the ranking reads one row per pair and minute, the answer only the kept pairs'. The
// row with the empty task name is not a task's (see qMetrics).
var qTaskMetrics = `WITH top AS (
	SELECT queue, task FROM asyncmq_task_metrics
	WHERE minute >= ?1 AND minute <= ?2 AND (?3 = '' OR queue = ?3) AND (?4 = '' OR task = ?4) AND task <> ''
	GROUP BY queue, task ORDER BY sum(started + completed + failed + retried) DESC, queue, task LIMIT ?5
)
SELECT m.queue, m.task, m.minute, completed, failed, retried, duration_sum, wait_sum, started, ` + strings.Join(durationCols[:], ", ") + `
FROM asyncmq_task_metrics m JOIN top ON m.queue = top.queue AND m.task = top.task
WHERE m.minute >= ?1 AND m.minute <= ?2 ORDER BY m.minute, m.queue, m.task`

// Events returns the events after the cursor p.After, oldest first, at most p.Limit (0 means
// all). A cursor is the event's row ID in decimal: SQLite's single writer assigns IDs in commit
// order, so an event is never readable before one with a lower ID. Only the newest events are
// kept (see EventRetention), so a reader that falls further behind finds a gap in the IDs.
func (b *Backend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	after, err := parseCursor(p.After)
	if err != nil {
		return nil, err
	}
	if b.closed.Load() {
		return nil, fmt.Errorf("read events: %w", asyncmqtype.ErrClosed)
	}
	if p.Limit == 0 {
		p.Limit = -1 // SQLite's LIMIT -1 is no limit.
	}
	rows, err := b.query(ctx, qEvents, after, p.Queue, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("read events after cursor %q: %w", p.After, b.fail(err))
	}
	out, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read events after cursor %q: %w", p.After, b.fail(err))
	}
	return out, nil
}

// RecentEvents returns the newest events, newest first, at most p.Limit, of p.Queue when set;
// see backend.EventLog.
func (b *Backend) RecentEvents(ctx context.Context, p asyncmqtype.RecentEventsParams) ([]asyncmqtype.Event, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if b.closed.Load() {
		return nil, fmt.Errorf("read recent events: %w", asyncmqtype.ErrClosed)
	}
	rows, err := b.query(ctx, qRecentEvents, p.Queue, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", b.fail(err))
	}
	out, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", b.fail(err))
	}
	return out, nil
}

// scanEvents reads the rows of qEvents or qRecentEvents and closes them.
func scanEvents(rows *sql.Rows) ([]asyncmqtype.Event, error) {
	defer rows.Close()
	out := []asyncmqtype.Event{}
	for rows.Next() {
		var (
			e          asyncmqtype.Event
			id, at     int64
			typ, state string
		)
		if err := rows.Scan(&id, &typ, &e.Queue, &e.JobID, &e.Task, &state, &at, &e.Detail); err != nil {
			return nil, err
		}
		e.Cursor = strconv.FormatInt(id, 10)
		e.Type, e.State, e.At = asyncmqtype.EventType(typ), asyncmqtype.State(state), fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// parseCursor reads an event cursor: "" (before every event) or a row ID in decimal.
func parseCursor(c string) (int64, error) { return backend.ParseSequenceCursor(c) }

// LastEventCursor returns the cursor of the newest event, "" when there is none.
func (b *Backend) LastEventCursor(ctx context.Context) (string, error) {
	if b.closed.Load() {
		return "", fmt.Errorf("read last event cursor: %w", asyncmqtype.ErrClosed)
	}
	var id int64
	if err := b.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM asyncmq_events`).Scan(&id); err != nil {
		return "", fmt.Errorf("read last event cursor: %w", b.fail(err))
	}
	if id == 0 {
		return "", nil
	}
	return strconv.FormatInt(id, 10), nil
}

// Metrics returns the per-minute buckets whose minute lies in [Since truncated to the minute,
// Until], sorted by minute then queue (then task). A zero Until means no upper bound. Both come
// from asyncmq_task_metrics: per-queue buckets are the sums of a queue's rows of each minute.
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
	var (
		rows *sql.Rows
		err  error
	)
	if p.PerTask() {
		rows, err = b.query(ctx, qTaskMetrics, since, until, p.Queue, p.Task, asyncmqtype.MetricTasksLimit)
	} else if p.Queue != "" {
		rows, err = b.query(ctx, qQueueMetrics, since, until, p.Queue)
	} else {
		rows, err = b.query(ctx, qMetrics, since, until)
	}
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
		dest := []any{&m.Queue, &m.Task, &minute, &m.Completed, &m.Failed, &m.Retried, &dur, &wait, &m.Started}
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
