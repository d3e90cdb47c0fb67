package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// qFinish applies a batch of outcomes, given as parallel arrays, in one statement: a row is only
// touched while it is still active under the token the worker holds. The same statement records
// the events (one log row, in the order the worker reported the outcomes) and the metrics, and
// releases the children of completed jobs whose dependency rows it can see.
//
// A child enqueued while its parent was completing is the exception: its dependency row was
// committed after this statement's snapshot, so the release here misses it. Such an enqueue set
// has_children on the parent under the parent's row lock, which this statement's update waited
// for and so sees; for those parents the caller runs qReleaseChildren, with a fresh snapshot.
//
// $1 id, $2 new state, $3 token, $4 result, $5 attempt error, $6 retry time, $7 position,
// $8 outcome, $9 duration, $10 duration bucket, $11 event detail; $12 now, $13 minute. It returns
// with each row the queues the statement made runnable.
var qFinish = `WITH v AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
		$7::int[], $8::text[], $9::bigint[], $10::int[], $11::text[])
		AS v(id, state, token, result, err, retry_at, pos, outcome, dur, bucket, detail)
), upd AS (
	UPDATE asyncmq_jobs j SET
		state = v.state,
		result = CASE WHEN v.outcome = 'completed' THEN v.result::jsonb ELSE j.result END,
		errors = CASE WHEN v.err IS NULL THEN j.errors
			ELSE coalesce(j.errors, '[]'::jsonb) || jsonb_build_array(jsonb_set(v.err::jsonb, '{attempt}', to_jsonb(j.attempts))) END,
		run_at = coalesce(v.retry_at, j.run_at),
		finished_at = CASE WHEN v.retry_at IS NULL THEN $12::timestamptz END,
		lease_token = '', lease_expires_at = NULL, cancel_requested = false
	FROM v WHERE j.id = v.id AND j.state = 'active' AND j.lease_token = v.token
	RETURNING j.id, j.queue, j.task, j.has_children, v.state, v.pos, v.outcome, v.dur, v.bucket, v.detail
), ev AS (
	INSERT INTO asyncmq_event_log (type, queue, at, types, queues, job_ids, tasks, states, details)
	SELECT '', '', $12, array_agg(CASE outcome WHEN 'completed' THEN 'job:completed' WHEN 'retry' THEN 'job:retrying'
			WHEN 'failed' THEN 'job:failed' ELSE 'job:cancelled' END ORDER BY pos),
		array_agg(queue ORDER BY pos), array_agg(id ORDER BY pos), array_agg(task ORDER BY pos),
		array_agg(state ORDER BY pos), array_agg(detail ORDER BY pos)
	FROM upd HAVING count(*) > 0
), m AS (
	INSERT INTO asyncmq_metrics (queue, minute, completed, failed, retried, duration_sum, durations)
	SELECT queue, $13, count(*) FILTER (WHERE outcome = 'completed'), count(*) FILTER (WHERE outcome = 'failed'),
		count(*) FILTER (WHERE outcome = 'retry'),
		coalesce(sum(dur) FILTER (WHERE outcome IN ('completed', 'failed')), 0),
		` + durationHistogram("upd") + `
	FROM upd WHERE outcome <> 'cancelled' GROUP BY queue
), mt AS (
	INSERT INTO asyncmq_task_metrics (queue, task, minute, completed, failed, retried, duration_sum, durations)
	SELECT queue, task, $13, count(*) FILTER (WHERE outcome = 'completed'), count(*) FILTER (WHERE outcome = 'failed'),
		count(*) FILTER (WHERE outcome = 'retry'),
		coalesce(sum(dur) FILTER (WHERE outcome IN ('completed', 'failed')), 0),
		` + durationHistogram("upd") + `
	FROM upd WHERE outcome <> 'cancelled' GROUP BY queue, task
), deps AS (
	DELETE FROM asyncmq_job_deps d USING upd WHERE d.parent = upd.id AND upd.outcome = 'completed'
	RETURNING d.child
), kids AS (
	UPDATE asyncmq_jobs c SET pending_deps = c.pending_deps - k.n,
		state = CASE WHEN c.state <> 'waiting-children' OR c.pending_deps > k.n THEN c.state
			WHEN c.run_at > $12 THEN 'delayed' ELSE 'waiting' END
	FROM (SELECT child, count(*) AS n FROM deps GROUP BY child) k WHERE c.id = k.child
	RETURNING c.queue
), wake AS (
	SELECT DISTINCT queue FROM upd WHERE state = 'waiting'
	UNION SELECT queue FROM kids
)
SELECT id, outcome = 'completed' AND has_children, (SELECT array_agg(queue) FROM wake) FROM upd`

// durationHistogram sums the bucket column of a finished-attempts relation into the array of
// asyncmq_metrics.durations.
func durationHistogram(rel string) string {
	parts := make([]string, numDurations)
	for i := range parts {
		parts[i] = "count(*) FILTER (WHERE " + rel + ".outcome IN ('completed', 'failed') AND " + rel + ".bucket = " + strconv.Itoa(i) + ")"
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::bigint[]"
}

// qReleaseChildren releases the children of completed parents ($1) whose dependency rows the
// finishing statement could not see; it is idempotent, as each row it deletes counts once. A
// child with no pending parent left leaves waiting-children for waiting, or delayed before its
// RunAt ($2 is now).
const qReleaseChildren = `WITH deps AS (
	DELETE FROM asyncmq_job_deps d USING asyncmq_jobs p
	WHERE d.parent = ANY($1::text[]) AND p.id = d.parent AND p.state = 'completed'
	RETURNING d.child
), kids AS (
	UPDATE asyncmq_jobs c SET pending_deps = c.pending_deps - k.n,
		state = CASE WHEN c.state <> 'waiting-children' OR c.pending_deps > k.n THEN c.state
			WHEN c.run_at > $2 THEN 'delayed' ELSE 'waiting' END
	FROM (SELECT child, count(*) AS n FROM deps GROUP BY child) k WHERE c.id = k.child
	RETURNING c.queue
)
SELECT coalesce(array_agg(DISTINCT queue), '{}') FROM kids`

// releaseChildren runs qReleaseChildren and signals the queues of the jobs it released.
func (b *Backend) releaseChildren(ctx context.Context, parents []string, now time.Time) error {
	var wake []string
	if err := b.pool.QueryRow(ctx, qReleaseChildren, parents, now).Scan(&wake); err != nil {
		return err
	}
	b.notifier.wake(wake...)
	return nil
}

// qParentsEnded applies the OnParentFailure policy of the waiting-children jobs of the jobs of
// $1 that the current transaction failed or cancelled (state failed or cancelled with finished_at
// $2, its Now), and of the children of the jobs it fails or cancels in turn: cancel cancels
// them, wait leaves them, anything else fails them with an error naming the parent ($3 is Now as
// text, for the attempt error), each with its event. It runs in the transaction that ended the
// parents, after the statement that did, so it sees their new state and every dependency row
// committed before it. The dependency rows stay, so a job kept waiting is released when the
// parent is retried and completes.
const qParentsEnded = `WITH RECURSIVE ended (id, state, msg) AS (
	SELECT id, state, NULL::text FROM asyncmq_jobs
	WHERE id = ANY($1::text[]) AND state IN ('failed', 'cancelled') AND finished_at = $2
	UNION
	SELECT c.id, CASE WHEN c.on_parent_failure = 'cancel' THEN 'cancelled' ELSE 'failed' END,
		'parent job ' || to_json(e.id)::text || CASE e.state WHEN 'cancelled' THEN ' was cancelled' ELSE ' failed' END
	FROM ended e JOIN asyncmq_job_deps d ON d.parent = e.id JOIN asyncmq_jobs c ON c.id = d.child
	WHERE c.state = 'waiting-children' AND c.on_parent_failure <> 'wait'
), kids AS (
	SELECT DISTINCT ON (id) id, state, msg FROM ended WHERE msg IS NOT NULL ORDER BY id, msg
), upd AS (
	UPDATE asyncmq_jobs c SET state = k.state, finished_at = $2,
		errors = CASE WHEN k.state = 'cancelled' THEN c.errors
			ELSE coalesce(c.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
				'attempt', c.attempts, 'at', $3::text, 'error', k.msg)) END
	FROM kids k WHERE c.id = k.id AND c.state = 'waiting-children'
	RETURNING c.id, c.queue, c.task, c.state, k.msg
)
INSERT INTO asyncmq_event_log (type, queue, job_id, task, state, at, detail)
SELECT CASE state WHEN 'cancelled' THEN 'job:cancelled' ELSE 'job:failed' END, queue, id, task, state, $2, msg
FROM upd ORDER BY id`

// parentsEnded runs qParentsEnded in the transaction w for the jobs of ids it ended.
func (w *wtx) parentsEnded(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := w.exec(qParentsEnded, ids, w.now, w.now.Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("apply the parent-failure policies of the children of %d jobs: %w", len(ids), err)
	}
	return nil
}

// outcomeState maps an outcome to the state it leads to; a retry due already is waiting.
var outcomeState = map[asyncmqtype.Outcome]asyncmqtype.State{
	asyncmqtype.OutcomeCompleted: asyncmqtype.StateCompleted,
	asyncmqtype.OutcomeRetry:     asyncmqtype.StateDelayed,
	asyncmqtype.OutcomeFailed:    asyncmqtype.StateFailed,
	asyncmqtype.OutcomeCancelled: asyncmqtype.StateCancelled,
}

// Finish applies every outcome of p with one statement (one round trip, one transaction), then
// releases the dependents of the jobs that completed.
//
// A retry without a positive RetryDelay makes the job waiting rather than delayed. A recorded
// AttemptError gets the job's attempt number, and Now when its At is zero. An item that
// Finish.Validate refuses gets its error (wrapping asyncmqtype.ErrInvalid); an item
// naming a job twice in one call gets asyncmqtype.ErrLeaseLost for the second.
func (b *Backend) Finish(ctx context.Context, p backend.FinishParams) ([]error, error) {
	if len(p.Items) == 0 {
		return nil, nil
	}
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("finish %d jobs: %w", len(p.Items), err)
	}
	now := b.clock(p.Now)
	errs := make([]error, len(p.Items))
	n := len(p.Items)
	var (
		ids, states, tokens, outcomes, details = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		results, attemptErrs                   = make([]*string, 0, n), make([]*string, 0, n)
		retryAts                               = make([]*time.Time, 0, n)
		pos, buckets                           = make([]int32, 0, n), make([]int32, 0, n)
		durs                                   = make([]int64, 0, n)
	)
	index := make(map[string]int, n)
	for i, it := range p.Items {
		if err := it.Validate(); err != nil {
			errs[i] = err
			continue
		}
		state := outcomeState[it.Outcome]
		if _, dup := index[it.JobID]; dup || it.LeaseToken == "" {
			errs[i] = fmt.Errorf("finish job %q: %w", it.JobID, asyncmqtype.ErrLeaseLost)
			continue
		}
		index[it.JobID] = i
		var attemptErr *string
		detail := ""
		if it.Error != nil && it.Outcome != asyncmqtype.OutcomeCompleted {
			e := *it.Error
			e.At = e.At.UTC()
			if e.At.IsZero() {
				e.At = now
			}
			buf, err := json.Marshal(e)
			if err != nil {
				return nil, fmt.Errorf("finish job %q: encode error: %w", it.JobID, err)
			}
			s := string(buf)
			attemptErr, detail = &s, short(it.Error.Error)
		}
		var result *string
		if it.Outcome == asyncmqtype.OutcomeCompleted {
			result = jsonText(it.Result)
		}
		var retryAt *time.Time
		if it.Outcome == asyncmqtype.OutcomeRetry {
			t := now
			if it.RetryDelay > 0 {
				t = now.Add(it.RetryDelay)
			} else {
				state = asyncmqtype.StateWaiting
			}
			retryAt = &t
		}
		ids, states, tokens = append(ids, it.JobID), append(states, string(state)), append(tokens, it.LeaseToken)
		results, attemptErrs, retryAts = append(results, result), append(attemptErrs, attemptErr), append(retryAts, retryAt)
		pos, outcomes, durs = append(pos, int32(i)), append(outcomes, string(it.Outcome)), append(durs, int64(it.Duration))
		buckets, details = append(buckets, int32(asyncmqtype.DurationBucket(it.Duration))), append(details, detail)
		// Until the statement says otherwise, every valid item lost its lease.
		errs[i] = fmt.Errorf("finish job %q: %w", it.JobID, asyncmqtype.ErrLeaseLost)
	}
	if len(ids) == 0 {
		return errs, nil
	}
	batch := b.transitionBatch()
	var late, applied, wake []string
	batch.Queue(qFinish, ids, states, tokens, results, attemptErrs, retryAts, pos, outcomes, durs,
		buckets, details, now, now.Truncate(time.Minute)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var children bool
			if err := rows.Scan(&id, &children, &wake); err != nil {
				return err
			}
			applied = append(applied, id)
			if children {
				late = append(late, id)
			}
		}
		return rows.Err()
	})
	// Failed and cancelled jobs end their waiting children in the same transaction.
	var ended []string
	for i, o := range outcomes {
		if o == string(asyncmqtype.OutcomeFailed) || o == string(asyncmqtype.OutcomeCancelled) {
			ended = append(ended, ids[i])
		}
	}
	if len(ended) > 0 {
		batch.Queue(qParentsEnded, ended, now, now.Format(time.RFC3339Nano))
	}
	if err := b.sendTransition(ctx, batch); err != nil {
		return nil, fmt.Errorf("finish %d jobs: %w", len(p.Items), b.fail(err))
	}
	for _, id := range applied {
		errs[index[id]] = nil
	}
	b.notifier.wake(wake...)
	if len(late) > 0 {
		// The outcomes are committed; should this fail, the maintenance pass releases them.
		if err := b.releaseChildren(ctx, late, now); err != nil {
			b.cfg.logger.WarnContext(ctx, "release dependent jobs", "error", err)
		}
	}
	return errs, nil
}

var (
	qHeartbeat = `WITH w AS (
	INSERT INTO asyncmq_workers (id, hostname, pid, queues, concurrency, started_at, last_heartbeat, active)
	VALUES ($1, $2, $3, $4, $5, coalesce($6::timestamptz, $7::timestamptz), $7, $8)
	ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, queues = excluded.queues,
		concurrency = excluded.concurrency, started_at = coalesce($6::timestamptz, asyncmq_workers.started_at),
		last_heartbeat = excluded.last_heartbeat, active = excluded.active
), ext AS (
	UPDATE asyncmq_jobs j SET lease_expires_at = $9
	FROM unnest($10::text[], $11::text[]) AS l(id, token)
	WHERE j.id = l.id AND j.state = 'active' AND j.lease_token = l.token
	RETURNING j.id, j.cancel_requested
)
SELECT id, cancel_requested FROM ext`
)

// Heartbeat refreshes the worker record and extends its leases in one statement. A zero
// Worker.StartedAt keeps the recorded start time (Now for a new worker).
func (b *Backend) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	if err := p.Validate(); err != nil {
		return backend.HeartbeatResult{}, err
	}
	if err := b.open(ctx); err != nil {
		return backend.HeartbeatResult{}, fmt.Errorf("heartbeat of worker %q: %w", p.Worker.ID, err)
	}
	now := b.clock(p.Now)
	ids, tokens := leaseArrays(p.Leases)
	queues := p.Worker.Queues
	if queues == nil {
		queues = []string{}
	}
	rows, err := b.pool.Query(ctx, qHeartbeat, p.Worker.ID, p.Worker.Hostname, p.Worker.PID, queues, p.Worker.Concurrency,
		nullTime(p.Worker.StartedAt), now, p.Worker.Active, now.Add(p.LeaseDuration), ids, tokens)
	if err != nil {
		return backend.HeartbeatResult{}, fmt.Errorf("heartbeat of worker %q: %w", p.Worker.ID, b.fail(err))
	}
	var res backend.HeartbeatResult
	kept := make(map[string]bool, len(p.Leases))
	for rows.Next() {
		var id string
		var cancel bool
		if err := rows.Scan(&id, &cancel); err != nil {
			rows.Close()
			return backend.HeartbeatResult{}, fmt.Errorf("heartbeat of worker %q: %w", p.Worker.ID, err)
		}
		kept[id] = true
		if cancel {
			res.Cancelled = append(res.Cancelled, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return backend.HeartbeatResult{}, fmt.Errorf("heartbeat of worker %q: %w", p.Worker.ID, b.fail(err))
	}
	for _, l := range p.Leases {
		if !kept[l.JobID] {
			res.Lost = append(res.Lost, l.JobID)
		}
	}
	return res, nil
}

func leaseArrays(ls []backend.Lease) (ids, tokens []string) {
	ids, tokens = make([]string, len(ls)), make([]string, len(ls))
	for i, l := range ls {
		ids[i], tokens[i] = l.JobID, l.LeaseToken
	}
	return ids, tokens
}

// qRelease returns leased jobs to waiting, or ends them cancelled when cancellation was
// requested meanwhile, so a shutdown does not undo a cancel.
const qRelease = `WITH l AS (
	SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS l(id, token, pos)
), upd AS (
	UPDATE asyncmq_jobs j SET
		state = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'waiting' END,
		finished_at = CASE WHEN j.cancel_requested THEN $3::timestamptz END,
		attempts = CASE WHEN j.cancel_requested THEN j.attempts ELSE greatest(j.attempts - 1, 0) END,
		lease_token = '', lease_expires_at = NULL, cancel_requested = false
	FROM l WHERE j.id = l.id AND j.state = 'active' AND j.lease_token = l.token
	RETURNING j.id, j.queue, j.task, j.state, l.pos
), ev AS (
	INSERT INTO asyncmq_event_log (type, queue, job_id, task, state, at, detail)
	SELECT CASE state WHEN 'cancelled' THEN 'job:cancelled' ELSE 'job:enqueued' END, queue, id, task, state, $3,
		CASE state WHEN 'cancelled' THEN '' ELSE 'released' END
	FROM upd ORDER BY pos
)
SELECT coalesce(array_agg(DISTINCT queue) FILTER (WHERE state = 'waiting'), '{}') FROM upd`

// Release returns the named active jobs to waiting without counting the attempt, in one
// statement. Jobs no longer held under the given tokens are skipped. A job whose cancellation
// was requested ends cancelled instead, its attempt counted.
func (b *Backend) Release(ctx context.Context, p backend.ReleaseParams) error {
	if len(p.Leases) == 0 {
		return nil
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("release %d jobs: %w", len(p.Leases), err)
	}
	ids, tokens := leaseArrays(p.Leases)
	var wake []string
	now := b.clock(p.Now)
	// A job cancelled here ends its waiting children in the same transaction.
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue(qRelease, ids, tokens, now).QueryRow(func(row pgx.Row) error { return row.Scan(&wake) })
	batch.Queue(qParentsEnded, ids, now, now.Format(time.RFC3339Nano))
	batch.Queue("COMMIT")
	if err := b.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("release %d jobs: %w", len(p.Leases), b.fail(err))
	}
	b.notifier.wake(wake...)
	return nil
}

const qProgress = `WITH upd AS (
	UPDATE asyncmq_jobs SET progress = $1::jsonb
	WHERE id = $2 AND state = 'active' AND lease_token = $3 AND lease_token <> ''
	RETURNING id, queue, task
), ev AS (
	INSERT INTO asyncmq_event_log (type, queue, job_id, task, state, at, detail)
	SELECT 'job:progress', queue, id, task, 'active', $4, $5 FROM upd
)
SELECT count(*) FROM upd`

// SetProgress stores a progress report; a stale lease gets asyncmqtype.ErrLeaseLost.
func (b *Backend) SetProgress(ctx context.Context, p backend.ProgressParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, err)
	}
	var n int
	err := b.pool.QueryRow(ctx, qProgress, jsonText(p.Progress), p.Lease.JobID, p.Lease.LeaseToken, b.now(), short(string(p.Progress))).Scan(&n)
	if err == nil && n == 0 {
		err = asyncmqtype.ErrLeaseLost
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, b.fail(err))
	}
	return nil
}
