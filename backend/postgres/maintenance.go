package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// chunk bounds the rows one maintenance or bulk statement changes, so that no transaction holds
// many row locks or runs long enough to stall claims, and vacuum can keep up.
const chunk = 1000

const qPromote = `WITH p AS (
	SELECT id FROM asyncmq_jobs WHERE state = 'delayed' AND run_at <= $1 ORDER BY run_at, id LIMIT $2
	FOR UPDATE SKIP LOCKED
), u AS (
	UPDATE asyncmq_jobs j SET state = 'waiting' FROM p WHERE j.id = p.id
	RETURNING j.id, j.queue, j.task, j.run_at, j.pending_deps
), ev AS (
	INSERT INTO asyncmq_event_log (type, queue, job_id, task, state, at, detail)
	SELECT 'job:enqueued', queue, id, task, 'waiting', $1, 'promoted' FROM u ORDER BY run_at, id
)
SELECT count(*), coalesce(array_agg(DISTINCT queue) FILTER (WHERE pending_deps = 0), '{}') FROM u`

// PromoteDue moves due delayed jobs to waiting, earliest first, at most p.Limit (0 = all), in
// statements of at most 1,000 jobs, recording a job:enqueued event (detail "promoted") for each
// and waking their queues.
func (b *Backend) PromoteDue(ctx context.Context, p backend.PromoteParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := b.open(ctx); err != nil {
		return 0, fmt.Errorf("promote due delayed jobs: %w", err)
	}
	now := b.clock(p.Now)
	total := 0
	for {
		want := chunk
		if p.Limit > 0 {
			want = min(chunk, p.Limit-total)
		}
		var n int
		var wake []string
		if err := b.pool.QueryRow(ctx, qPromote, now, want).Scan(&n, &wake); err != nil {
			return total, fmt.Errorf("promote due delayed jobs: %w", b.fail(err))
		}
		b.notifier.wake(wake...)
		total += n
		if n < want || p.Limit > 0 && total >= p.Limit {
			return total, nil
		}
	}
}

const (
	qStalled = `SELECT id, queue, task, stalls, cancel_requested FROM asyncmq_jobs
WHERE state = 'active' AND lease_expires_at < $1 ORDER BY lease_expires_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`
	qStallRequeue = `UPDATE asyncmq_jobs SET state = 'waiting', stalls = stalls + 1,
	lease_token = '', lease_expires_at = NULL
WHERE id = ANY($1::text[])`
	qStallFail = `UPDATE asyncmq_jobs SET state = 'failed', stalls = stalls + 1, finished_at = $2,
	lease_token = '', lease_expires_at = NULL, cancel_requested = false,
	errors = coalesce(errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
		'attempt', attempts, 'at', $3::text, 'error', 'job stalled: its lease expired ' || (stalls + 1) || ' times'))
WHERE id = ANY($1::text[])`
	qStallCancel = `UPDATE asyncmq_jobs SET state = 'cancelled', stalls = stalls + 1, finished_at = $2,
	lease_token = '', lease_expires_at = NULL, cancel_requested = false
WHERE id = ANY($1::text[])`
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
	for {
		want := chunk
		if p.Limit > 0 {
			want = min(chunk, p.Limit-len(res.Requeued)-len(res.Failed))
		}
		var part backend.RecoverResult
		n := 0
		err := b.tx(ctx, now, func(w *wtx) error {
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

// recoverStalled recovers up to limit stalled jobs; those it fails or cancels end their waiting
// children in the same transaction.
func (w *wtx) recoverStalled(limit, maxStalls int, res *backend.RecoverResult) (int, error) {
	rows, err := w.tx.Query(w.ctx, qStalled, w.now, limit)
	if err != nil {
		return 0, err
	}
	type stalled struct {
		id, queue, task string
		stalls          int
		cancelRequested bool
		state           asyncmqtype.State
	}
	var found []stalled
	for rows.Next() {
		var s stalled
		if err := rows.Scan(&s.id, &s.queue, &s.task, &s.stalls, &s.cancelRequested); err != nil {
			rows.Close()
			return 0, err
		}
		found = append(found, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var requeue, fail, cancel []string
	for i := range found {
		s := &found[i]
		switch {
		case s.cancelRequested:
			s.state = asyncmqtype.StateCancelled
			cancel = append(cancel, s.id)
		case s.stalls+1 > maxStalls:
			s.state = asyncmqtype.StateFailed
			fail = append(fail, s.id)
			res.Failed = append(res.Failed, s.id)
		default:
			s.state = asyncmqtype.StateWaiting
			requeue = append(requeue, s.id)
			res.Requeued = append(res.Requeued, s.id)
		}
	}
	if len(requeue) > 0 {
		if err := w.exec(qStallRequeue, requeue); err != nil {
			return 0, err
		}
	}
	if len(fail) > 0 {
		if err := w.exec(qStallFail, fail, w.now, w.now.Format(time.RFC3339Nano)); err != nil {
			return 0, err
		}
	}
	if len(cancel) > 0 {
		if err := w.exec(qStallCancel, cancel, w.now); err != nil {
			return 0, err
		}
	}
	for _, s := range found {
		e := asyncmqtype.Event{Type: asyncmqtype.EventStalled, Queue: s.queue, JobID: s.id, Task: s.task, State: s.state}
		switch s.state {
		case asyncmqtype.StateFailed:
			e.Type, e.Detail = asyncmqtype.EventFailed, fmt.Sprintf("job stalled: its lease expired %d times", s.stalls+1)
			w.metric(s.queue, s.task).failed++
		case asyncmqtype.StateCancelled:
			e.Type = asyncmqtype.EventCancelled
		case asyncmqtype.StateWaiting:
			w.wakeQueue(s.queue)
		}
		w.event(e)
	}
	return len(found), w.parentsEnded(append(fail, cancel...))
}

// known locks a queue's row for the transaction and reports whether it exists.
func (w *wtx) known(queue string) (bool, error) {
	var one int
	err := w.tx.QueryRow(w.ctx, `SELECT 1 FROM asyncmq_queues WHERE name = $1 FOR UPDATE`, queue).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// deleteIDs deletes jobs by ID and returns how many went.
func (w *wtx) deleteIDs(ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := w.tx.Exec(w.ctx, `DELETE FROM asyncmq_jobs WHERE id = ANY($1::text[])`, ids)
	if err != nil {
		return 0, fmt.Errorf("delete jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ids runs a query selecting one text column.
func (w *wtx) ids(q string, args ...any) ([]string, error) {
	rows, err := w.tx.Query(w.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Drain deletes the waiting (and, with includeDelayed, delayed) jobs of a queue in
// transactions of at most 1,000 jobs, and records one queue:changed event when it deleted any.
// Jobs enqueued while it runs may survive. An unknown queue gets asyncmqtype.ErrQueueNotFound.
func (b *Backend) Drain(ctx context.Context, queue string, includeDelayed bool) (int, error) {
	q := `SELECT id FROM asyncmq_jobs WHERE queue = $1 AND state IN ('waiting', 'waiting-children') LIMIT $2 FOR UPDATE SKIP LOCKED`
	if includeDelayed {
		q = `SELECT id FROM asyncmq_jobs WHERE queue = $1 AND state IN ('waiting', 'waiting-children', 'delayed') LIMIT $2 FOR UPDATE SKIP LOCKED`
	}
	total := 0
	for first := true; ; first = false {
		n := 0
		err := b.tx(ctx, b.now(), func(w *wtx) error {
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
			ids, err := w.ids(q, queue, chunk)
			if err != nil {
				return fmt.Errorf("select jobs: %w", err)
			}
			if len(ids) == 0 {
				if total > 0 {
					w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, Detail: "drained"})
				}
				return nil
			}
			n, err = w.deleteIDs(ids)
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

const (
	// qCleanKept finds the oldest of the jobs Clean keeps.
	qCleanKept = `SELECT finished_at, id FROM asyncmq_jobs
WHERE queue = $1 AND state = $2 AND finished_at IS NOT NULL
ORDER BY finished_at DESC, id DESC LIMIT 1 OFFSET $3`
	qCleanPick = `SELECT id FROM asyncmq_jobs
WHERE queue = $1 AND state = $2 AND finished_at IS NOT NULL AND ($3::timestamptz IS NULL OR finished_at < $3)
	AND ($4::timestamptz IS NULL OR (finished_at, id) < ($4, $5))
ORDER BY finished_at, id LIMIT $6 FOR UPDATE SKIP LOCKED`
)

// Clean deletes terminal jobs of p.State finished before p.OlderThan, oldest first, keeping the
// newest p.Keep of that state, at most p.Limit (0 = no limit), in transactions of at most 1,000
// jobs read from the (queue, state, finished_at, id) index, and records one queue:changed event
// when it deleted any. A zero OlderThan means no age condition.
func (b *Backend) Clean(ctx context.Context, p backend.CleanParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	before := nullTime(p.OlderThan)
	// The kept jobs are fixed in the first transaction: nothing at or after the Keep-th newest
	// (finished_at, id) goes, whatever later chunks delete.
	var keepAt *time.Time
	keepID := ""
	keepNone := false
	total := 0
	for first := true; ; first = false {
		n := 0
		err := b.tx(ctx, b.now(), func(w *wtx) error {
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
					var at time.Time
					err := w.tx.QueryRow(w.ctx, qCleanKept, p.Queue, string(p.State), p.Keep-1).Scan(&at, &keepID)
					if errors.Is(err, pgx.ErrNoRows) {
						keepNone = true
					} else if err != nil {
						return err
					} else {
						keepAt = &at
					}
				}
			}
			if keepNone {
				return nil
			}
			limit := chunk
			if p.Limit > 0 {
				limit = min(chunk, p.Limit-total)
			}
			ids, err := w.ids(qCleanPick, p.Queue, string(p.State), before, keepAt, keepID, limit)
			if err != nil {
				return fmt.Errorf("select jobs: %w", err)
			}
			if n, err = w.deleteIDs(ids); err != nil {
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
		if keepNone || n < chunk || p.Limit > 0 && total >= p.Limit {
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
		err := b.tx(ctx, b.now(), func(w *wtx) error {
			done = false
			ok, err := w.known(queue)
			if err != nil {
				return err
			}
			if !ok {
				if first {
					return asyncmqtype.ErrQueueNotFound
				}
				done = true
				return nil
			}
			if first && !force {
				var active int
				if err := w.tx.QueryRow(w.ctx, `SELECT count(*) FROM asyncmq_jobs WHERE queue = $1 AND state = 'active'`, queue).Scan(&active); err != nil {
					return err
				}
				if active > 0 {
					return fmt.Errorf("%d active jobs: %w", active, asyncmqtype.ErrQueueActive)
				}
			}
			ids, err := w.ids(`SELECT id FROM asyncmq_jobs WHERE queue = $1 LIMIT $2`, queue, chunk)
			if err != nil {
				return fmt.Errorf("select jobs: %w", err)
			}
			if _, err := w.deleteIDs(ids); err != nil {
				return err
			}
			if len(ids) == chunk {
				return nil
			}
			if err := w.exec(`DELETE FROM asyncmq_repeatables WHERE queue = $1`, queue); err != nil {
				return fmt.Errorf("delete repeatables: %w", err)
			}
			if err := w.exec(`DELETE FROM asyncmq_queues WHERE name = $1`, queue); err != nil {
				return fmt.Errorf("delete queue: %w", err)
			}
			w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, Detail: "obliterated"})
			done = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("obliterate queue %q: %w", queue, err)
		}
		if done {
			b.lc.forget(queue)
			return nil
		}
	}
}

// maintenanceInterval is how often each Backend prunes events and metrics beyond retention, folds finished minutes of metric rows and releases children missed by a
// crash between a Finish and its follow-up. Every step is idempotent and skips at once when
// another process holds its advisory lock, so many processes cost little more than one.
const maintenanceInterval = 2 * time.Second

func (b *Backend) maintain() {
	defer b.wg.Done()
	t := time.NewTimer(maintenanceInterval/2 + rand.N(maintenanceInterval))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := b.maintainOnce(ctx); err != nil && !b.closed.Load() {
			b.cfg.logger.WarnContext(ctx, "asyncmq postgres maintenance", "schema", b.schema, "error", err)
		}
		cancel()
		t.Reset(maintenanceInterval)
	}
}

var (
	// qPruneLog deletes the oldest unnumbered events beyond retention: nobody read them in time,
	// and numbering them first would only cost writes. A row of a batch holds one event per job
	// ID; a row goes once the newer rows hold at least $1 events.
	qPruneLog = `DELETE FROM asyncmq_event_log WHERE id IN (SELECT id FROM (
	SELECT id, sum(coalesce(cardinality(job_ids), 1)) OVER (ORDER BY id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newer
	FROM asyncmq_event_log) s WHERE newer >= $1)`
	qPruneEvents      = `DELETE FROM asyncmq_events WHERE id <= (SELECT max(id) FROM asyncmq_events) - $1`
	qPruneMetrics     = `DELETE FROM asyncmq_metrics WHERE minute < $1`
	qPruneTaskMetrics = `DELETE FROM asyncmq_task_metrics WHERE minute < $1`
	qFoldMetrics      = foldMetrics("asyncmq_metrics", "queue", "minute")
	qFoldTaskMetrics  = foldMetrics("asyncmq_task_metrics", "queue", "task", "minute")
	// qOrphanDeps releases children whose parent completed without releasing them (a crash
	// between Finish and its follow-up statement).
	qOrphanDeps = `SELECT count(*) FROM (SELECT 1 FROM asyncmq_job_deps d JOIN asyncmq_jobs p ON p.id = d.parent
	WHERE p.state = 'completed' LIMIT 1) s`
)

// foldMetrics builds the statement that replaces the rows of each key of table older than $1
// that has several by their sum, under an advisory lock per table so that two processes do not
// fold the same rows.
func foldMetrics(table string, key ...string) string {
	keys := strings.Join(key, ", ")
	on := make([]string, len(key))
	for i, k := range key {
		on[i] = "m." + k + " = k." + k
	}
	return `WITH lock AS (
	SELECT pg_try_advisory_xact_lock(hashtextextended('` + strings.Replace(table, "asyncmq_", "asyncmq.", 1) + `.' || current_schema(), 0)) AS ok
), keys AS (
	SELECT ` + keys + ` FROM ` + table + `, lock WHERE lock.ok AND minute < $1
	GROUP BY ` + keys + ` HAVING count(*) > 1 LIMIT 1000
), del AS (
	DELETE FROM ` + table + ` m USING keys k WHERE ` + strings.Join(on, " AND ") + ` RETURNING m.*
), ` + metricSums("del", key...) + `
INSERT INTO ` + table + ` (` + keys + `, completed, failed, retried, started, duration_sum, wait_sum, durations)
SELECT * FROM sums`
}

func (b *Backend) maintainOnce(ctx context.Context) error {
	if err := b.measureSkew(ctx); err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, qPruneLog, b.cfg.eventRetention); err != nil {
		return fmt.Errorf("prune event log: %w", err)
	}
	if _, err := b.pool.Exec(ctx, qPruneEvents, b.cfg.eventRetention); err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	now := b.now()
	for _, q := range [...]string{qPruneMetrics, qPruneTaskMetrics} {
		if _, err := b.pool.Exec(ctx, q, now.Add(-b.cfg.metricRetention)); err != nil {
			return fmt.Errorf("prune metrics: %w", err)
		}
	}
	for _, q := range [...]string{qFoldMetrics, qFoldTaskMetrics} {
		if _, err := b.pool.Exec(ctx, q, now.Truncate(time.Minute).Add(-time.Minute)); err != nil {
			return fmt.Errorf("fold metrics: %w", err)
		}
	}
	var orphans int
	if err := b.pool.QueryRow(ctx, qOrphanDeps).Scan(&orphans); err != nil {
		return fmt.Errorf("look for unreleased dependencies: %w", err)
	}
	if orphans > 0 {
		parents, err := b.completedParents(ctx)
		if err != nil {
			return err
		}
		if err := b.releaseChildren(ctx, parents, now); err != nil {
			return fmt.Errorf("release dependent jobs: %w", err)
		}
	}
	return nil
}

func (b *Backend) completedParents(ctx context.Context) ([]string, error) {
	rows, err := b.pool.Query(ctx, `SELECT DISTINCT d.parent FROM asyncmq_job_deps d JOIN asyncmq_jobs p ON p.id = d.parent
	WHERE p.state = 'completed' LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("look for unreleased dependencies: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
