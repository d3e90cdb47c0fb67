//go:build asyncmq_postgres_wip

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// metricSums defines the CTE "sums": the rows of rel (asyncmq_metrics rows) summed per queue and
// minute, the duration histogram element by element.
func metricSums(rel string) string {
	return `dur AS (
	SELECT d.queue, d.minute, u.i, sum(u.v) AS s FROM ` + rel + ` d, unnest(d.durations) WITH ORDINALITY AS u(v, i)
	GROUP BY d.queue, d.minute, u.i
), durs AS (
	SELECT queue, minute, array_agg(s ORDER BY i)::bigint[] AS ds FROM dur GROUP BY queue, minute
), sums AS (
	SELECT a.queue, a.minute, sum(a.completed)::bigint AS completed, sum(a.failed)::bigint AS failed,
		sum(a.retried)::bigint AS retried, sum(a.started)::bigint AS started,
		sum(a.duration_sum)::bigint AS duration_sum, sum(a.wait_sum)::bigint AS wait_sum, min(durs.ds) AS durations
	FROM ` + rel + ` a JOIN durs ON durs.queue = a.queue AND durs.minute = a.minute
	GROUP BY a.queue, a.minute
)`
}

// sequence numbers the events committed since the last call (see asyncmq_sequence_events), so a
// read that follows sees every event committed before it.
func (b *Backend) sequence(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, `SELECT asyncmq_sequence_events(true)`)
	return err
}

const qEvents = `SELECT id, type, queue, job_id, task, state, at, detail FROM asyncmq_events
WHERE id > $1 AND ($2 = '' OR queue = $2) ORDER BY id LIMIT $3`

// Events returns the events with ID > p.AfterID, oldest first, at most p.Limit (0 means all).
//
// Writers append to an unnumbered log without sharing any lock; Events first numbers, in one
// statement under an advisory lock, every log row committed so far, after the newest numbered
// event. So IDs follow commit order and a reader resuming after an ID never misses an event
// whose transaction committed late. Only the newest events are kept (see EventRetention), so a
// reader that falls further behind finds a gap in the IDs.
func (b *Backend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	limit := int64(p.Limit)
	switch {
	case p.Limit < 0:
		return nil, fmt.Errorf("read events: negative limit %d: %w", p.Limit, asyncmqtype.ErrInvalid)
	case p.Limit == 0:
		limit = 1 << 62
	}
	if err := b.sequence(ctx); err != nil {
		return nil, fmt.Errorf("read events after %d: number new events: %w", p.AfterID, b.fail(err))
	}
	rows, err := b.pool.Query(ctx, qEvents, p.AfterID, p.Queue, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", p.AfterID, b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.Event{}
	for rows.Next() {
		var (
			e          asyncmqtype.Event
			typ, state string
			at         time.Time
		)
		if err := rows.Scan(&e.ID, &typ, &e.Queue, &e.JobID, &e.Task, &state, &at, &e.Detail); err != nil {
			return nil, fmt.Errorf("read events after %d: %w", p.AfterID, err)
		}
		e.Type, e.State, e.At = asyncmqtype.EventType(typ), asyncmqtype.State(state), at.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events after %d: %w", p.AfterID, b.fail(err))
	}
	return out, nil
}

// LastEventID returns the ID of the newest event, 0 when there is none.
func (b *Backend) LastEventID(ctx context.Context) (int64, error) {
	if err := b.open(ctx); err != nil {
		return 0, fmt.Errorf("read last event ID: %w", err)
	}
	if err := b.sequence(ctx); err != nil {
		return 0, fmt.Errorf("read last event ID: number new events: %w", b.fail(err))
	}
	var id int64
	if err := b.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM asyncmq_events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("read last event ID: %w", b.fail(err))
	}
	return id, nil
}

var qMetrics = `WITH sel AS (
	SELECT * FROM asyncmq_metrics WHERE minute >= $1 AND ($2::timestamptz IS NULL OR minute <= $2) AND ($3 = '' OR queue = $3)
), ` + metricSums("sel") + `
SELECT queue, minute, completed, failed, retried, duration_sum, wait_sum, started, durations FROM sums ORDER BY minute, queue`

// Metrics returns the per-minute buckets whose minute lies in [Since truncated to the minute,
// Until], sorted by minute then queue; a zero Until means no upper bound. A bucket is the sum of
// the rows the transactions of its minute appended (see the schema).
func (b *Backend) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	since := p.Since.Truncate(time.Minute).UTC()
	rows, err := b.pool.Query(ctx, qMetrics, since, nullTime(p.Until), p.Queue)
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
		if err := rows.Scan(&m.Queue, &minute, &m.Completed, &m.Failed, &m.Retried, &dur, &wait, &m.Started, &m.DurationCounts); err != nil {
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
