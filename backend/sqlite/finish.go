package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

var (
	// qFinish applies a batch of outcomes in one statement; a row is only touched while it is
	// still active under the token the worker holds.
	// The VALUES columns are job ID, new state, lease token, result, attempt error, retry time.
	qFinish = `UPDATE asyncmq_jobs AS j SET
	state = v.column2,
	result = CASE WHEN v.column2 = 'completed' THEN v.column4 ELSE j.result END,
	errors = CASE WHEN v.column5 IS NULL THEN j.errors ELSE json_insert(coalesce(j.errors, '[]'), '$[#]',
		json_set(v.column5, '$.attempt', j.attempts)) END,
	run_at = coalesce(v.column6, j.run_at),
	finished_at = CASE WHEN v.column6 IS NULL THEN ?1 END,
	lease_token = '', lease_expires_at = NULL, cancel_requested = 0
FROM (VALUES %s) AS v
WHERE j.id = v.column1 AND j.state = 'active' AND j.lease_token = v.column3
RETURNING id, queue, task, `
	// The last column of qFinish's RETURNING: whether the job has children waiting for it. A
	// store with no dependency at all (the common case) skips the lookup, which costs about 3µs
	// per job.
	finishParent   = `EXISTS (SELECT 1 FROM asyncmq_job_deps WHERE parent = id)`
	finishNoParent = `0`
	qAnyDeps       = `SELECT EXISTS (SELECT 1 FROM asyncmq_job_deps)`
	qDepsResolve   = `UPDATE asyncmq_jobs SET pending_deps = pending_deps - (
	SELECT count(*) FROM asyncmq_job_deps AS d
	WHERE d.child = asyncmq_jobs.id AND d.parent IN (SELECT value FROM json_each(?1)))
WHERE id IN (SELECT child FROM asyncmq_job_deps WHERE parent IN (SELECT value FROM json_each(?1)))
RETURNING id`
	// qDepsReady moves the children with no pending parent left out of waiting-children.
	qDepsReady = `UPDATE asyncmq_jobs SET state = CASE WHEN run_at > ?2 THEN 'delayed' ELSE 'waiting' END
WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'waiting-children' AND pending_deps = 0
RETURNING queue, state`
	qDepsDelete = `DELETE FROM asyncmq_job_deps WHERE parent IN (SELECT value FROM json_each(?))`
	// qParentEnded applies the OnParentFailure policy of the waiting-children jobs of one parent
	// (?2) that failed or was cancelled: cancel cancels them, anything but wait fails them with
	// the attempt error ?3. The dependency rows stay, so a job kept waiting is still released
	// when the parent is retried and completes.
	qParentEnded = `UPDATE asyncmq_jobs AS j SET
	state = CASE WHEN j.on_parent_failure = 'cancel' THEN 'cancelled' ELSE 'failed' END,
	finished_at = ?1,
	errors = CASE WHEN j.on_parent_failure = 'cancel' THEN j.errors
		ELSE json_insert(coalesce(j.errors, '[]'), '$[#]', json_set(?3, '$.attempt', j.attempts)) END
FROM asyncmq_job_deps AS d
WHERE d.parent = ?2 AND j.id = d.child AND j.state = 'waiting-children' AND j.on_parent_failure != 'wait'
RETURNING id, queue, task, state`
)

// outcomeState maps an outcome to the state it leads to; a retry due already is waiting.
var outcomeState = map[asyncmqtype.Outcome]asyncmqtype.State{
	asyncmqtype.OutcomeCompleted: asyncmqtype.StateCompleted,
	asyncmqtype.OutcomeRetry:     asyncmqtype.StateDelayed,
	asyncmqtype.OutcomeFailed:    asyncmqtype.StateFailed,
	asyncmqtype.OutcomeCancelled: asyncmqtype.StateCancelled,
}

var outcomeEvent = map[asyncmqtype.Outcome]asyncmqtype.EventType{
	asyncmqtype.OutcomeCompleted: asyncmqtype.EventCompleted,
	asyncmqtype.OutcomeRetry:     asyncmqtype.EventRetrying,
	asyncmqtype.OutcomeFailed:    asyncmqtype.EventFailed,
	asyncmqtype.OutcomeCancelled: asyncmqtype.EventCancelled,
}

// Finish applies every outcome of p in one transaction with one statement, then releases the
// dependents of the jobs that completed.
//
// A retry with a positive RetryDelay makes the job delayed until Now+RetryDelay, otherwise
// waiting at once. A recorded
// AttemptError gets the job's attempt number, and Now when its At is zero. An item whose Outcome
// is unknown or whose Result is not JSON gets an error wrapping asyncmqtype.ErrInvalid; an item
// naming a job twice in one call gets asyncmqtype.ErrLeaseLost for the second. In the metrics,
// DurationSum adds the run time of completed and failed outcomes, not of retries.
func (b *Backend) Finish(ctx context.Context, p backend.FinishParams) ([]error, error) {
	if len(p.Items) == 0 {
		return nil, nil
	}
	now := b.clock(p.Now)
	errs := make([]error, len(p.Items))
	err := b.write(ctx, now, func(w *wtx) error {
		clear(errs)
		return w.finish(p.Items, errs)
	})
	if err != nil {
		return nil, fmt.Errorf("finish %d jobs: %w", len(p.Items), err)
	}
	return errs, nil
}

func (w *wtx) finish(items []backend.Finish, errs []error) error {
	rows := make([][]any, 0, len(items))
	index := make(map[string]int, len(items))
	states := make([]asyncmqtype.State, len(items))
	for i, it := range items {
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
		var attemptErr any
		if it.Error != nil && it.Outcome != asyncmqtype.OutcomeCompleted {
			e := *it.Error
			e.At = e.At.UTC()
			if e.At.IsZero() {
				e.At = w.now
			}
			s, err := jsonArg(e)
			if err != nil {
				return err
			}
			attemptErr = s
		}
		var result any
		if it.Outcome == asyncmqtype.OutcomeCompleted {
			result = text(it.Result)
		}
		var retryAt any
		if it.Outcome == asyncmqtype.OutcomeRetry {
			retryAt = nanoInt(w.now)
			if it.RetryDelay > 0 {
				retryAt = nanoInt(w.now.Add(it.RetryDelay))
			} else {
				state = asyncmqtype.StateWaiting
			}
		}
		states[i] = state
		rows = append(rows, []any{it.JobID, string(state), it.LeaseToken, result, attemptErr, retryAt})
	}
	if len(rows) == 0 {
		return nil
	}
	// Until the statement says otherwise, every valid item lost its lease.
	lost := make([]bool, len(items))
	for i := range items {
		lost[i] = errs[i] == nil
	}
	defer func() {
		for i, l := range lost {
			if l {
				errs[i] = fmt.Errorf("finish job %q: %w", items[i].JobID, asyncmqtype.ErrLeaseLost)
			}
		}
	}()
	var anyDeps bool
	if err := w.queryRow(qAnyDeps).Scan(&anyDeps); err != nil {
		return fmt.Errorf("look for job dependencies: %w", err)
	}
	q := qFinish + finishNoParent
	if anyDeps {
		q = qFinish + finishParent
	}
	type applied struct {
		id, queue, task string
		// parent is set when the job has children waiting for it.
		parent bool
	}
	var done []applied
	_, err := w.eachRun(q, []any{nanoInt(w.now)}, rows, func(res *sql.Rows) error {
		for res.Next() {
			var a applied
			if err := res.Scan(&a.id, &a.queue, &a.task, &a.parent); err != nil {
				return err
			}
			done = append(done, a)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	// The events go in the order the worker reported the outcomes.
	slices.SortFunc(done, func(a, b applied) int { return cmp.Compare(index[a.id], index[b.id]) })
	var completed []string
	var ended []endedJob
	for _, a := range done {
		i := index[a.id]
		it := items[i]
		lost[i] = false
		w.count(a.queue, asyncmqtype.StateActive, states[i])
		e := asyncmqtype.Event{Type: outcomeEvent[it.Outcome], Queue: a.queue, JobID: a.id, Task: a.task, State: states[i]}
		if it.Error != nil && it.Outcome != asyncmqtype.OutcomeCompleted {
			e.Detail = it.Error.Error
		}
		w.event(e)
		switch it.Outcome {
		case asyncmqtype.OutcomeCompleted:
			m := w.metric(a.queue, a.task)
			m.completed++
			m.finished(it.Duration)
			if a.parent {
				// Only a job with children has dependency rows to resolve; most have none,
				// and skipping them saves two statements per batch.
				completed = append(completed, a.id)
			}
		case asyncmqtype.OutcomeRetry:
			w.metric(a.queue, a.task).retried++
		case asyncmqtype.OutcomeFailed:
			m := w.metric(a.queue, a.task)
			m.failed++
			m.finished(it.Duration)
		}
		if a.parent && (states[i] == asyncmqtype.StateFailed || states[i] == asyncmqtype.StateCancelled) {
			ended = append(ended, endedJob{a.id, states[i]})
		}
	}
	if err := w.resolveDeps(completed); err != nil {
		return err
	}
	return w.parentsEnded(ended)
}

// endedJob is a job that just failed or was cancelled.
type endedJob struct {
	id    string
	state asyncmqtype.State
}

// parentsEnded applies the OnParentFailure policy of the waiting-children jobs of parents that
// just failed or were cancelled, and then of the children of the jobs it ended, in turn.
func (w *wtx) parentsEnded(ended []endedJob) error {
	for len(ended) > 0 {
		p := ended[0]
		ended = ended[1:]
		msg := backend.ParentFailureMessage(p.id, p.state)
		attemptErr, err := jsonArg(asyncmqtype.AttemptError{At: w.now, Error: msg})
		if err != nil {
			return err
		}
		rows, err := w.query(qParentEnded, nanoInt(w.now), p.id, attemptErr)
		if err != nil {
			return fmt.Errorf("apply the parent-failure policies of the children of job %q: %w", p.id, err)
		}
		var evs []asyncmqtype.Event
		for rows.Next() {
			var e asyncmqtype.Event
			var state string
			if err := rows.Scan(&e.JobID, &e.Queue, &e.Task, &state); err != nil {
				rows.Close()
				return fmt.Errorf("apply the parent-failure policies of the children of job %q: %w", p.id, err)
			}
			e.State, e.Type, e.Detail = asyncmqtype.State(state), asyncmqtype.EventFailed, msg
			if e.State == asyncmqtype.StateCancelled {
				e.Type = asyncmqtype.EventCancelled
			}
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("apply the parent-failure policies of the children of job %q: %w", p.id, err)
		}
		slices.SortFunc(evs, func(a, b asyncmqtype.Event) int { return cmp.Compare(a.JobID, b.JobID) })
		for _, e := range evs {
			w.count(e.Queue, asyncmqtype.StateWaitingChildren, e.State)
			w.event(e)
			ended = append(ended, endedJob{e.JobID, e.State})
		}
	}
	return nil
}

// resolveDeps counts the completion of parents down in their children.
func (w *wtx) resolveDeps(parents []string) error {
	if len(parents) == 0 {
		return nil
	}
	arg, err := jsonArg(parents)
	if err != nil {
		return err
	}
	rows, err := w.query(qDepsResolve, arg)
	if err != nil {
		return fmt.Errorf("release dependent jobs: %w", err)
	}
	var children []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("release dependent jobs: %w", err)
		}
		children = append(children, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("release dependent jobs: %w", err)
	}
	if len(children) > 0 {
		if err := w.releaseReady(children); err != nil {
			return err
		}
	}
	if _, err := w.exec(qDepsDelete, arg); err != nil {
		return fmt.Errorf("release dependent jobs: %w", err)
	}
	return nil
}

// releaseReady moves the jobs of ids that have no pending parent left from waiting-children to
// waiting, or to delayed before their RunAt.
func (w *wtx) releaseReady(ids []string) error {
	arg, err := jsonArg(ids)
	if err != nil {
		return err
	}
	rows, err := w.query(qDepsReady, arg, nanoInt(w.now))
	if err != nil {
		return fmt.Errorf("release dependent jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var queue, state string
		if err := rows.Scan(&queue, &state); err != nil {
			return fmt.Errorf("release dependent jobs: %w", err)
		}
		w.count(queue, asyncmqtype.StateWaitingChildren, asyncmqtype.State(state))
		if state == string(asyncmqtype.StateWaiting) {
			// The child's last pending parent completed.
			w.wakeQueue(queue)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("release dependent jobs: %w", err)
	}
	return nil
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

var (
	qWorkerUpsert = `INSERT INTO asyncmq_workers (id, hostname, pid, queues, concurrency, started_at, last_heartbeat, active)
VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, ?7), ?7, ?8)
ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, queues = excluded.queues,
	concurrency = excluded.concurrency, started_at = coalesce(?6, asyncmq_workers.started_at),
	last_heartbeat = excluded.last_heartbeat, active = excluded.active`
	qLeaseExtend = `UPDATE asyncmq_jobs AS j SET lease_expires_at = ?1
FROM (VALUES %s) AS v
WHERE j.id = v.column1 AND j.state = 'active' AND j.lease_token = v.column2
RETURNING id, cancel_requested`
)

// Heartbeat refreshes the worker record and extends its leases in one transaction.
// A zero Worker.StartedAt keeps the recorded start time (Now for a new worker).
func (b *Backend) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	if err := p.Validate(); err != nil {
		return backend.HeartbeatResult{}, err
	}
	var res backend.HeartbeatResult
	err := b.write(ctx, b.clock(p.Now), func(w *wtx) error {
		res = backend.HeartbeatResult{}
		queues, err := jsonArg(nonNil(p.Worker.Queues))
		if err != nil {
			return err
		}
		if _, err := w.exec(qWorkerUpsert, p.Worker.ID, p.Worker.Hostname, p.Worker.PID, queues, p.Worker.Concurrency,
			nanos(p.Worker.StartedAt), nanoInt(w.now), p.Worker.Active); err != nil {
			return fmt.Errorf("record worker: %w", err)
		}
		if len(p.Leases) == 0 {
			return nil
		}
		kept := make(map[string]bool, len(p.Leases))
		_, err = w.eachRun(qLeaseExtend, []any{nanoInt(w.now.Add(p.LeaseDuration))}, leaseRows(p.Leases), func(rows *sql.Rows) error {
			for rows.Next() {
				var id string
				var cancel bool
				if err := rows.Scan(&id, &cancel); err != nil {
					return err
				}
				kept[id] = true
				if cancel {
					res.Cancelled = append(res.Cancelled, id)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("extend leases: %w", err)
		}
		for _, l := range p.Leases {
			if !kept[l.JobID] {
				res.Lost = append(res.Lost, l.JobID)
			}
		}
		return nil
	})
	if err != nil {
		return backend.HeartbeatResult{}, fmt.Errorf("heartbeat of worker %q: %w", p.Worker.ID, err)
	}
	return res, nil
}

// leaseRows lists leases as (job ID, token) rows.
func leaseRows(ls []backend.Lease) [][]any {
	rows := make([][]any, len(ls))
	for i, l := range ls {
		rows[i] = []any{l.JobID, l.LeaseToken}
	}
	return rows
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// qRelease returns leased jobs to waiting, or ends them as cancelled when cancellation was
// requested meanwhile, so a shutdown does not undo a cancel.
var qRelease = `UPDATE asyncmq_jobs AS j SET
	state = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'waiting' END,
	finished_at = CASE WHEN j.cancel_requested THEN ?1 ELSE NULL END,
	attempts = CASE WHEN j.cancel_requested THEN j.attempts ELSE max(j.attempts - 1, 0) END,
	lease_token = '', lease_expires_at = NULL,
	cancel_requested = 0
FROM (VALUES %s) AS v
WHERE j.id = v.column1 AND j.state = 'active' AND j.lease_token = v.column2
RETURNING id, queue, task, state`

// Release returns the named active jobs to waiting without counting the attempt. Jobs no
// longer held under the given tokens are skipped. A job whose cancellation was requested ends
// cancelled instead, its attempt counted.
func (b *Backend) Release(ctx context.Context, p backend.ReleaseParams) error {
	if len(p.Leases) == 0 {
		return nil
	}
	order := make(map[string]int, len(p.Leases))
	for i, l := range p.Leases {
		if _, ok := order[l.JobID]; !ok {
			order[l.JobID] = i
		}
	}
	err := b.write(ctx, b.clock(p.Now), func(w *wtx) error {
		var evs []asyncmqtype.Event
		var cancelled []endedJob
		_, err := w.eachRun(qRelease, []any{nanoInt(w.now)}, leaseRows(p.Leases), func(rows *sql.Rows) error {
			for rows.Next() {
				var id, queue, task, state string
				if err := rows.Scan(&id, &queue, &task, &state); err != nil {
					return err
				}
				st := asyncmqtype.State(state)
				w.count(queue, asyncmqtype.StateActive, st)
				if st == asyncmqtype.StateCancelled {
					cancelled = append(cancelled, endedJob{id, st})
				}
				e := asyncmqtype.Event{Type: asyncmqtype.EventEnqueued, Queue: queue, JobID: id, Task: task, State: st, Detail: "released"}
				if st == asyncmqtype.StateCancelled {
					e.Type, e.Detail = asyncmqtype.EventCancelled, ""
				}
				evs = append(evs, e)
			}
			return nil
		})
		slices.SortFunc(evs, func(a, b asyncmqtype.Event) int { return cmp.Compare(order[a.JobID], order[b.JobID]) })
		for _, e := range evs {
			w.event(e)
		}
		if err != nil {
			return err
		}
		return w.parentsEnded(cancelled)
	})
	if err != nil {
		return fmt.Errorf("release %d jobs: %w", len(p.Leases), err)
	}
	return nil
}

var qProgress = `UPDATE asyncmq_jobs SET progress = ?
WHERE id = ? AND state = 'active' AND lease_token = ? AND lease_token != ''
RETURNING queue, task`

// SetProgress stores a progress report; a stale lease gets asyncmqtype.ErrLeaseLost.
func (b *Backend) SetProgress(ctx context.Context, p backend.ProgressParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	err := b.write(ctx, b.now(), func(w *wtx) error {
		var queue, task string
		err := w.queryRow(qProgress, text(p.Progress), p.Lease.JobID, p.Lease.LeaseToken).Scan(&queue, &task)
		if errors.Is(err, sql.ErrNoRows) {
			return asyncmqtype.ErrLeaseLost
		}
		if err != nil {
			return err
		}
		w.event(asyncmqtype.Event{Type: asyncmqtype.EventProgress, Queue: queue, JobID: p.Lease.JobID, Task: task,
			State: asyncmqtype.StateActive, Detail: short(string(p.Progress))})
		return nil
	})
	if err != nil {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, err)
	}
	return nil
}
