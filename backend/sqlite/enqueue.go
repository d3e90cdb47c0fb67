package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Enqueue stores p.Jobs all-or-nothing, with one multi-row insert.
//
// Calls made at the same time share a transaction ("group commit"), each under its own
// savepoint, so a call that fails leaves the others alone: a busy web server enqueueing one job
// per request pays for one commit per batch of requests rather than per request.
//
// A job's UniqueKey is live while its UniqueUntil is in the future or, when UniqueUntil is zero,
// until the job ends (completed, failed or cancelled). A job whose parents have not all
// completed is stored waiting-children with PendingDeps > 0 and is not claimed until they
// complete. Once the call succeeds, each job of p.Jobs has State and PendingDeps as stored; the
// call sets no other field of them. Enqueue reads only ID, Queue, Task, Payload, Priority, MaxRetries, Backoff, Timeout,
// RunAt, CreatedAt (zero means Now), UniqueKey, UniqueUntil, DependsOn and RepeatableID; the
// other fields start empty.
func (b *Backend) Enqueue(ctx context.Context, p backend.EnqueueParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := checkDuplicates(p.Jobs); err != nil {
		return fmt.Errorf("enqueue jobs: %w", err)
	}
	if len(p.Jobs) == 0 {
		return nil
	}
	if b.closed.Load() {
		return fmt.Errorf("enqueue jobs: %w", asyncmqtype.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("enqueue jobs: %w", err)
	}
	c := &enqueueCall{jobs: p.Jobs, now: b.clock(p.Now), lockDeadline: time.Now().Add(b.cfg.busyTimeout), done: make(chan struct{}), lead: make(chan struct{})}
	if err := b.enq.wait(ctx, b, c); err != nil {
		if len(p.Jobs) == 1 {
			return fmt.Errorf("enqueue job %q: %w", p.Jobs[0].ID, err)
		}
		return fmt.Errorf("enqueue %d jobs: %w", len(p.Jobs), err)
	}
	return nil
}

// enqueuer gathers concurrent Enqueue calls into shared transactions. A call queues itself;
// the call at the head of the queue when no transaction is running leads: it takes the queue,
// writes it in one transaction and hands the lead to the next call queued meanwhile.
type enqueuer struct {
	mu      sync.Mutex
	queue   []*enqueueCall
	leading bool
}

type enqueueCall struct {
	jobs []*asyncmqtype.JobInfo
	now  time.Time
	// lockDeadline is when the call's busy timeout, counted from its start, runs out: a call
	// queued behind a transaction that waits for the lock must not wait that out and then its
	// own busy timeout again.
	lockDeadline time.Time
	// err is the call's outcome, set before done is closed.
	err  error
	done chan struct{}
	// lead is closed when the call is to run the next transaction.
	lead chan struct{}
}

// maxGroupJobs bounds the jobs of the calls one transaction takes (a single call may be
// larger), so that the write lock is not held for long.
const maxGroupJobs = 1000

// wait queues c and returns its outcome, running the transaction when c leads.
func (e *enqueuer) wait(ctx context.Context, b *Backend, c *enqueueCall) error {
	e.mu.Lock()
	e.queue = append(e.queue, c)
	if !e.leading {
		e.leading = true
		close(c.lead)
	}
	e.mu.Unlock()
	gaveUp, lead := ctx.Done(), c.lead
	busy := time.NewTimer(time.Until(c.lockDeadline))
	defer busy.Stop()
	for {
		select {
		case <-busy.C:
			if e.withdraw(c, false) {
				return fmt.Errorf("database stayed locked for the busy timeout %s while the call waited for a write transaction: %w", b.cfg.busyTimeout, errLockTimeout)
			}
			// A transaction has the call; its own lock deadline is no later than c's.
		case <-c.done:
			return c.err
		case <-lead:
			lead = nil // a call leads once: it is done when its transaction ends
			if ctx.Err() == nil {
				e.run(ctx, b, c)
				continue
			}
			e.withdraw(c, true)
			return fmt.Errorf("wait for the write transaction: %w", ctx.Err())
		case <-gaveUp:
			if e.withdraw(c, false) {
				return fmt.Errorf("wait for the write transaction: %w", ctx.Err())
			}
			// A transaction has taken the call, so its outcome is being decided: wait for it,
			// unless the call comes back to the queue (when its leader gave up).
			gaveUp = nil
		}
	}
}

// withdraw takes c out of the queue, passing the lead on if c had it (led tells that c took it
// already), and reports whether c was still queued.
func (e *enqueuer) withdraw(c *enqueueCall, led bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := slices.Index(e.queue, c)
	if i < 0 {
		return false
	}
	e.queue = slices.Delete(e.queue, i, i+1)
	// The lead is given under e.mu, so whether c has it cannot change here.
	if led || isClosed(c.lead) {
		e.handOff()
	}
	return true
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// handOff passes the lead to the head of the queue, or ends leading; e.mu is held.
func (e *enqueuer) handOff() {
	if len(e.queue) > 0 {
		close(e.queue[0].lead)
		return
	}
	e.leading = false
}

// run writes the queued calls, led by leader, in one transaction, sets their outcomes and hands
// off the lead.
func (e *enqueuer) run(ctx context.Context, b *Backend, leader *enqueueCall) {
	e.mu.Lock()
	n, jobs := 0, 0
	for n < len(e.queue) && (n == 0 || jobs+len(e.queue[n].jobs) <= maxGroupJobs) {
		jobs += len(e.queue[n].jobs)
		n++
	}
	group := slices.Clone(e.queue[:n])
	e.queue = slices.Delete(e.queue, 0, n)
	e.mu.Unlock()

	errs := make([]error, len(group))
	stored := make([][]storedState, len(group))
	// The group waits for the lock no longer than its earliest call may.
	deadline := leader.lockDeadline
	for _, c := range group {
		if c.lockDeadline.Before(deadline) {
			deadline = c.lockDeadline
		}
	}
	err := b.writeUntil(ctx, leader.now, deadline, func(w *wtx) error {
		clear(errs)
		clear(stored)
		for i, c := range group {
			w.now = c.now
			if stored[i], errs[i] = w.enqueueAlone(c.jobs); errs[i] != nil && !isCallError(errs[i]) {
				return errs[i]
			}
		}
		return nil
	})
	if err != nil && (ctx.Err() != nil || isBusy(err)) {
		// The leader's caller gave up, or the lock deadline of the group's earliest call passed,
		// and the transaction was rolled back: the calls that still have time go back to the head
		// of the queue for a leader of their own; the others fail with the leader.
		now := time.Now()
		e.mu.Lock()
		var back []*enqueueCall
		for _, c := range group {
			if c != leader && (ctx.Err() != nil || now.Before(c.lockDeadline)) {
				back = append(back, c)
				continue
			}
			c.err = err
			close(c.done)
		}
		e.queue = append(back, e.queue...)
		e.handOff()
		e.mu.Unlock()
		return
	}
	for i, c := range group {
		c.err = errs[i]
		if err != nil {
			c.err = err
		}
		if c.err == nil {
			// The caller reads its jobs only after done is closed.
			for k, j := range c.jobs {
				j.State, j.PendingDeps = stored[i][k].state, stored[i][k].pending
			}
		}
		close(c.done)
	}
	e.mu.Lock()
	e.handOff()
	e.mu.Unlock()
}

// isCallError reports an error that fails one Enqueue call rather than the transaction.
func isCallError(err error) bool {
	return errors.Is(err, asyncmqtype.ErrJobExists) || errors.Is(err, asyncmqtype.ErrDuplicateJob) ||
		errors.Is(err, asyncmqtype.ErrJobNotFound) || errors.Is(err, asyncmqtype.ErrInvalid)
}

// enqueueAlone runs enqueue under a savepoint and, when it fails with a call error, undoes its
// rows and its counter deltas and events.
func (w *wtx) enqueueAlone(jobs []*asyncmqtype.JobInfo) ([]storedState, error) {
	if _, err := w.exec("SAVEPOINT enqueue"); err != nil {
		return nil, err
	}
	events, wake, counts := len(w.events), len(w.wake), w.cloneCounts()
	stored, err := w.enqueue(jobs)
	if err != nil && isCallError(err) {
		if _, rerr := w.exec("ROLLBACK TO enqueue"); rerr != nil {
			return nil, rerr
		}
		w.events, w.wake, w.counts = w.events[:events], w.wake[:wake], counts
	}
	if _, rerr := w.exec("RELEASE enqueue"); rerr != nil && err == nil {
		return nil, rerr
	}
	return stored, err
}

// checkDuplicates refuses a call that names one ID twice, which the shared validation leaves to
// the store (as for IDs already stored).
func checkDuplicates(jobs []*asyncmqtype.JobInfo) error {
	if len(jobs) < 2 {
		return nil
	}
	seen := make(map[string]struct{}, len(jobs))
	for _, j := range jobs {
		if _, dup := seen[j.ID]; dup {
			return fmt.Errorf("job %q appears twice: %w", j.ID, asyncmqtype.ErrJobExists)
		}
		seen[j.ID] = struct{}{}
	}
	return nil
}

var (
	qParentStates = `SELECT id, state FROM asyncmq_jobs WHERE id IN (SELECT value FROM json_each(?))`
	qUniqueLive   = `SELECT j.queue, j.unique_key, j.id FROM json_each(?) AS v
JOIN asyncmq_jobs AS j ON j.queue = v.value->>0 AND j.unique_key = v.value->>1
WHERE j.unique_until > ?2 OR (j.unique_until IS NULL AND j.state NOT IN ('completed', 'failed', 'cancelled'))
LIMIT 1`
	qJobInsert = `INSERT INTO asyncmq_jobs (id, queue, task, payload, state, priority, max_retries,
	backoff_kind, backoff_base, backoff_max, backoff_jitter, timeout, run_at, created_at,
	unique_key, unique_until, depends_on, pending_deps, repeatable_id, on_parent_failure, headers)
VALUES %s`
	qExistingIDs = `SELECT id FROM asyncmq_jobs WHERE id IN (SELECT value FROM json_each(?)) LIMIT 1`
	qDepInsert   = `INSERT OR IGNORE INTO asyncmq_job_deps (parent, child) VALUES %s`
)

// storedState is what enqueue decided for one job.
type storedState struct {
	state   asyncmqtype.State
	pending int
}

// enqueue inserts checked jobs and returns the state and pending parent count of each, in order.
// It does not modify jobs: the transaction may still roll back.
func (w *wtx) enqueue(jobs []*asyncmqtype.JobInfo) ([]storedState, error) {
	inBatch := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		inBatch[j.ID] = true
	}
	if err := w.checkUnique(jobs); err != nil {
		return nil, err
	}
	parentDone, err := w.parents(jobs, inBatch)
	if err != nil {
		return nil, err
	}

	rows := make([][]any, len(jobs))
	stored := make([]storedState, len(jobs))
	var edges [][]any
	for i, j := range jobs {
		runAt := j.RunAt
		if runAt.IsZero() {
			runAt = w.now
		}
		created := j.CreatedAt
		if created.IsZero() {
			created = w.now
		}
		state := asyncmqtype.StateWaiting
		if runAt.After(w.now) {
			state = asyncmqtype.StateDelayed
		}
		var dependsOn any
		pending := 0
		if len(j.DependsOn) > 0 {
			s, err := jsonArg(j.DependsOn)
			if err != nil {
				return nil, err
			}
			dependsOn = s
			for _, p := range uniq(j.DependsOn) {
				if !parentDone[p] {
					pending++
					edges = append(edges, []any{p, j.ID})
				}
			}
		}
		if pending > 0 {
			state = asyncmqtype.StateWaitingChildren
		}
		var uniqueKey any
		if j.UniqueKey != "" {
			uniqueKey = j.UniqueKey
		}
		headers, err := backend.EncodeHeaders(j.Headers)
		if err != nil {
			return nil, err
		}
		stored[i] = storedState{state, pending}
		rows[i] = []any{j.ID, j.Queue, j.Task, text(j.Payload), string(state), j.Priority, j.MaxRetries,
			string(j.Backoff.Kind), int64(j.Backoff.Base), int64(j.Backoff.Max), j.Backoff.Jitter, int64(j.Timeout),
			nanoInt(runAt), nanoInt(created), uniqueKey, nanos(j.UniqueUntil), dependsOn, pending, j.RepeatableID,
			string(j.OnParentFailure), text(headers)}
		w.count(j.Queue, "", state)
		w.event(asyncmqtype.Event{Type: asyncmqtype.EventEnqueued, Queue: j.Queue, JobID: j.ID, Task: j.Task, State: state})
	}
	if _, err := w.eachRun(qJobInsert, nil, rows, nil); err != nil {
		if isConstraint(err) {
			return nil, w.existingID(jobs, err)
		}
		return nil, fmt.Errorf("insert jobs: %w", err)
	}
	if _, err := w.eachRun(qDepInsert, nil, edges, nil); err != nil {
		return nil, fmt.Errorf("insert job dependencies: %w", err)
	}
	return stored, nil
}

// parents checks that every parent named in DependsOn exists, in the store or in the batch, and
// reports which of them have completed.
func (w *wtx) parents(jobs []*asyncmqtype.JobInfo, inBatch map[string]bool) (map[string]bool, error) {
	var ids []string
	for _, j := range jobs {
		for _, p := range j.DependsOn {
			if !inBatch[p] {
				ids = append(ids, p)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ids = uniq(ids)
	arg, err := jsonArg(ids)
	if err != nil {
		return nil, err
	}
	rows, err := w.query(qParentStates, arg)
	if err != nil {
		return nil, fmt.Errorf("look up parent jobs: %w", err)
	}
	defer rows.Close()
	done := make(map[string]bool, len(ids))
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("look up parent jobs: %w", err)
		}
		done[id] = asyncmqtype.State(state) == asyncmqtype.StateCompleted
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up parent jobs: %w", err)
	}
	for _, id := range ids {
		if _, ok := done[id]; !ok {
			return nil, fmt.Errorf("parent job %q: %w", id, asyncmqtype.ErrJobNotFound)
		}
	}
	return done, nil
}

func (w *wtx) checkUnique(jobs []*asyncmqtype.JobInfo) error {
	type key struct{ queue, key string }
	var keys [][2]string
	seen := make(map[key]string)
	for _, j := range jobs {
		if j.UniqueKey == "" {
			continue
		}
		k := key{j.Queue, j.UniqueKey}
		if other, dup := seen[k]; dup {
			return fmt.Errorf("unique key %q of queue %q is used by jobs %q and %q: %w", j.UniqueKey, j.Queue, other, j.ID, asyncmqtype.ErrDuplicateJob)
		}
		// A key that expires before the job is stored does not hold off the rest of the batch.
		if j.UniqueUntil.IsZero() || j.UniqueUntil.After(w.now) {
			seen[k] = j.ID
		}
		keys = append(keys, [2]string{j.Queue, j.UniqueKey})
	}
	if len(keys) == 0 {
		return nil
	}
	arg, err := jsonArg(keys)
	if err != nil {
		return err
	}
	var queue, ukey, holder string
	err = w.queryRow(qUniqueLive, arg, nanoInt(w.now)).Scan(&queue, &ukey, &holder)
	switch {
	case err == nil:
		return fmt.Errorf("unique key %q of queue %q is held by job %q: %w", ukey, queue, holder, asyncmqtype.ErrDuplicateJob)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("check unique keys: %w", err)
	}
	return nil
}

// existingID names the job whose ID made the insert fail.
func (w *wtx) existingID(jobs []*asyncmqtype.JobInfo, cause error) error {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	arg, err := jsonArg(ids)
	if err != nil {
		return err
	}
	var id string
	if err := w.queryRow(qExistingIDs, arg).Scan(&id); err != nil {
		return fmt.Errorf("insert jobs: %w", cause)
	}
	return fmt.Errorf("job %q: %w", id, asyncmqtype.ErrJobExists)
}

// uniq returns ss without repeats, in first-seen order.
func uniq(ss []string) []string {
	seen := make(map[string]struct{}, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}
