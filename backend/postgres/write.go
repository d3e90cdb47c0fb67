package postgres

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/jackc/pgx/v5"
)

// wtx is one write transaction with the side effects every transition records atomically:
// lifecycle events and metric deltas, each written at flush with one statement, and the queues
// to wake once it commits.
type wtx struct {
	b   *Backend
	tx  pgx.Tx
	ctx context.Context
	now time.Time

	events  []asyncmqtype.Event
	metrics map[metricKey]*metricDelta
	wake    map[string]bool
}

type metricDelta struct {
	completed, failed, retried, started int64
	durationSum, waitSum                int64
	durations                           [numDurations]int64
}

const numDurations = len(asyncmqtype.DurationBuckets) + 1

func (w *wtx) exec(q string, args ...any) error {
	_, err := w.tx.Exec(w.ctx, q, args...)
	return err
}

func (w *wtx) event(e asyncmqtype.Event) {
	e.At = w.now
	w.events = append(w.events, e)
}

// metricKey names a transaction's metric delta; flush appends it to asyncmq_task_metrics and
// to asyncmq_metrics.
type metricKey struct{ queue, task string }

func (w *wtx) metric(queue, task string) *metricDelta {
	if w.metrics == nil {
		w.metrics = make(map[metricKey]*metricDelta)
	}
	k := metricKey{queue, task}
	d := w.metrics[k]
	if d == nil {
		d = new(metricDelta)
		w.metrics[k] = d
	}
	return d
}

// wakeQueue records that queue may have runnable jobs once the transaction commits.
func (w *wtx) wakeQueue(queue string) {
	if w.wake == nil {
		w.wake = make(map[string]bool)
	}
	w.wake[queue] = true
}

const (
	qEventInsert = `INSERT INTO asyncmq_event_log (type, queue, job_id, task, state, at, detail)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])`
	qMetricInsert = `INSERT INTO asyncmq_metrics (queue, minute, completed, failed, retried, started, duration_sum, wait_sum, durations)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	qTaskMetricInsert = `INSERT INTO asyncmq_task_metrics (queue, task, minute, completed, failed, retried, started, duration_sum, wait_sum, durations)
VALUES ($1, $10, $2, $3, $4, $5, $6, $7, $8, $9)`
)

// flush writes the gathered events and metrics.
func (w *wtx) flush() error {
	if n := len(w.events); n > 0 {
		cols := make([][]string, 6)
		for i := range cols {
			cols[i] = make([]string, n)
		}
		at := make([]time.Time, n)
		for i, e := range w.events {
			cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i] = string(e.Type), e.Queue, e.JobID, e.Task, string(e.State), short(e.Detail)
			at[i] = e.At
		}
		if err := w.exec(qEventInsert, cols[0], cols[1], cols[2], cols[3], cols[4], at, cols[5]); err != nil {
			return fmt.Errorf("record events: %w", err)
		}
	}
	minute := w.now.Truncate(time.Minute)
	// Only maintenance writes metrics here (stalled failures, a few per pass): a pair of rows per
	// queue and task is not worth folding into one statement.
	for k, d := range w.metrics {
		args := []any{k.queue, minute, d.completed, d.failed, d.retried, d.started, d.durationSum, d.waitSum, d.durations[:]}
		if err := w.exec(qMetricInsert, args...); err != nil {
			return fmt.Errorf("record metrics of queue %q: %w", k.queue, err)
		}
		if err := w.exec(qTaskMetricInsert, append(args, k.task)...); err != nil {
			return fmt.Errorf("record metrics of task %q of queue %q: %w", k.task, k.queue, err)
		}
	}
	return nil
}

// committed runs after a successful commit: it signals the queues the transaction made
// runnable (see notifier.wake).
func (w *wtx) committed() {
	for q := range w.wake {
		w.b.notifier.wake(q)
	}
}

// short cuts s to a length fit for an event detail: a line of a dashboard, not storage.
func short(s string) string {
	const limit = 512
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// transitionBatch starts a pipelined transaction for a worker's transition (claim, finish):
// queue its statements, then send it with sendTransition, all in one round trip. Unless
// DurableOutcomes is set, the transaction commits without waiting for the WAL to reach the disk
// (synchronous_commit off): a crash of the PostgreSQL server may forget the last few hundred
// milliseconds of claims and outcomes, which makes those jobs run again (at-least-once, as after
// a worker crash) but never loses an enqueued job, whose commit always waits.
func (b *Backend) transitionBatch() *pgx.Batch {
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	if !b.cfg.durableOutcomes {
		batch.Queue("SET LOCAL synchronous_commit TO OFF")
	}
	return batch
}

// sendTransition commits and sends a batch from transitionBatch.
func (b *Backend) sendTransition(ctx context.Context, batch *pgx.Batch) error {
	batch.Queue("COMMIT")
	return b.pool.SendBatch(ctx, batch).Close()
}
