package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// metricSums defines the CTE "sums": the rows of rel (asyncmq_metrics or asyncmq_task_metrics
// rows) summed per key (queue, minute or queue, task, minute), the duration histogram element
// by element. The columns of sums are the key's, then the counters in table order.
func metricSums(rel string, key ...string) string {
	d, a, on := make([]string, len(key)), make([]string, len(key)), make([]string, len(key))
	for i, k := range key {
		d[i], a[i], on[i] = "d."+k, "a."+k, "durs."+k+" = a."+k
	}
	keys := strings.Join(key, ", ")
	return `dur AS (
	SELECT ` + strings.Join(d, ", ") + `, u.i, sum(u.v) AS s FROM ` + rel + ` d, unnest(d.durations) WITH ORDINALITY AS u(v, i)
	GROUP BY ` + strings.Join(d, ", ") + `, u.i
), durs AS (
	SELECT ` + keys + `, array_agg(s ORDER BY i)::bigint[] AS ds FROM dur GROUP BY ` + keys + `
), sums AS (
	SELECT ` + strings.Join(a, ", ") + `, sum(a.completed)::bigint AS completed, sum(a.failed)::bigint AS failed,
		sum(a.retried)::bigint AS retried, sum(a.started)::bigint AS started,
		sum(a.duration_sum)::bigint AS duration_sum, sum(a.wait_sum)::bigint AS wait_sum, min(durs.ds) AS durations
	FROM ` + rel + ` a JOIN durs ON ` + strings.Join(on, " AND ") + `
	GROUP BY ` + strings.Join(a, ", ") + `
)`
}

// sequence numbers the events committed since the last call (see asyncmq_sequence_events), so a
// read that follows sees every event committed before it.
func (b *Backend) sequence(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, `SELECT asyncmq_sequence_events(true)`)
	return err
}

const (
	qEvents = `SELECT id, type, queue, job_id, task, state, at, detail FROM asyncmq_events
WHERE id > $1 AND ($2 = '' OR queue = $2) ORDER BY id LIMIT $3`
	qRecentEvents = `SELECT id, type, queue, job_id, task, state, at, detail FROM asyncmq_events
WHERE $1 = '' OR queue = $1 ORDER BY id DESC LIMIT $2`
)

// Events returns the events after the cursor p.After, oldest first, at most p.Limit (0 means
// all). A cursor is the event's sequence number in decimal.
//
// Writers append to an unnumbered log without sharing any lock, so concurrent transactions
// never wait for each other to record their events. Events first numbers, in one statement under
// an advisory lock, every log row committed so far, after the newest numbered event: a number is
// assigned only once its row is committed, and every row committed later gets a higher one, so a
// reader resuming after a cursor never misses an event whose transaction committed late and
// never reads one twice. (A sequence or identity column assigned at insert would not do: a
// transaction that took number 7 may commit after another that took 8 was read.) Only the newest
// events are kept (see EventRetention), so a reader that falls further behind finds a gap.
func (b *Backend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	after, err := parseCursor(p.After)
	if err != nil {
		return nil, err
	}
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	limit := int64(p.Limit)
	if p.Limit == 0 {
		limit = 1 << 62
	}
	if err := b.sequence(ctx); err != nil {
		return nil, fmt.Errorf("read events after cursor %q: number new events: %w", p.After, b.fail(err))
	}
	rows, err := b.pool.Query(ctx, qEvents, after, p.Queue, limit)
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
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	if err := b.sequence(ctx); err != nil {
		return nil, fmt.Errorf("read recent events: number new events: %w", b.fail(err))
	}
	rows, err := b.pool.Query(ctx, qRecentEvents, p.Queue, p.Limit)
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
func scanEvents(rows pgx.Rows) ([]asyncmqtype.Event, error) {
	defer rows.Close()
	out := []asyncmqtype.Event{}
	for rows.Next() {
		var (
			e          asyncmqtype.Event
			id         int64
			typ, state string
			at         time.Time
		)
		if err := rows.Scan(&id, &typ, &e.Queue, &e.JobID, &e.Task, &state, &at, &e.Detail); err != nil {
			return nil, err
		}
		e.Cursor = strconv.FormatInt(id, 10)
		e.Type, e.State, e.At = asyncmqtype.EventType(typ), asyncmqtype.State(state), at.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// parseCursor reads an event cursor: "" (before every event) or a sequence number in decimal.
func parseCursor(c string) (int64, error) { return backend.ParseSequenceCursor(c) }

// LastEventCursor returns the cursor of the newest event, "" when there is none.
func (b *Backend) LastEventCursor(ctx context.Context) (string, error) {
	if err := b.open(ctx); err != nil {
		return "", fmt.Errorf("read last event cursor: %w", err)
	}
	if err := b.sequence(ctx); err != nil {
		return "", fmt.Errorf("read last event cursor: number new events: %w", b.fail(err))
	}
	var id int64
	if err := b.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM asyncmq_events`).Scan(&id); err != nil {
		return "", fmt.Errorf("read last event cursor: %w", b.fail(err))
	}
	if id == 0 {
		return "", nil
	}
	return strconv.FormatInt(id, 10), nil
}

var (
	qMetrics = `WITH sel AS (
	SELECT * FROM asyncmq_metrics WHERE minute >= $1 AND ($2::timestamptz IS NULL OR minute <= $2) AND ($3 = '' OR queue = $3)
), ` + metricSums("sel", "queue", "minute") + `
SELECT queue, '', minute, completed, failed, retried, duration_sum, wait_sum, started, durations FROM sums ORDER BY minute, queue`
	// qTaskMetrics ranks the (queue, task) pairs of the window by attempts and sums the rows
	// of the $5 busiest only.
	qTaskMetrics = `WITH win AS (
	SELECT * FROM asyncmq_task_metrics WHERE minute >= $1 AND ($2::timestamptz IS NULL OR minute <= $2)
		AND ($3 = '' OR queue = $3) AND ($4 = '' OR task = $4)
), top AS (
	SELECT queue, task FROM win GROUP BY queue, task
	ORDER BY sum(started + completed + failed + retried) DESC, queue COLLATE "C", task COLLATE "C" LIMIT $5
), sel AS (
	SELECT win.* FROM win JOIN top ON win.queue = top.queue AND win.task = top.task
), ` + metricSums("sel", "queue", "task", "minute") + `
SELECT queue, task, minute, completed, failed, retried, duration_sum, wait_sum, started, durations FROM sums
ORDER BY minute, queue COLLATE "C", task COLLATE "C"`
)

// Metrics returns the per-minute buckets whose minute lies in [Since truncated to the minute,
// Until], sorted by minute then queue; a zero Until means no upper bound. A bucket is the sum of
// the rows the transactions of its minute appended (see the schema).
func (b *Backend) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	since := p.Since.Truncate(time.Minute).UTC()
	var (
		rows pgx.Rows
		err  error
	)
	if p.PerTask() {
		rows, err = b.pool.Query(ctx, qTaskMetrics, since, nullTime(p.Until), p.Queue, p.Task, asyncmqtype.MetricTasksLimit)
	} else {
		rows, err = b.pool.Query(ctx, qMetrics, since, nullTime(p.Until), p.Queue)
	}
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.MetricBucket{}
	for rows.Next() {
		var (
			m         asyncmqtype.MetricBucket
			minute    time.Time
			dur, wait int64
		)
		if err := rows.Scan(&m.Queue, &m.Task, &minute, &m.Completed, &m.Failed, &m.Retried, &dur, &wait, &m.Started, &m.DurationCounts); err != nil {
			return nil, fmt.Errorf("read metrics: %w", err)
		}
		m.Minute, m.DurationSum, m.WaitSum = minute.UTC(), time.Duration(dur), time.Duration(wait)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", b.fail(err))
	}
	return out, nil
}
