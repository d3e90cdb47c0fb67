package postgres

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
	"github.com/jackc/pgx/v5"
)

// enqueuer groups concurrent Enqueue calls. A call queues itself; while fewer than maxLeaders
// groups are being written, it leads: it takes the queue (itself and whatever queued meanwhile),
// writes it and hands the lead to the next queued call, if any. So under load each statement
// carries the calls that arrived while the previous ones ran, and a lone call is written at once.
type enqueuer struct {
	mu      sync.Mutex
	queue   []*enqueueCall
	leaders int
}

type enqueueCall struct {
	jobs []*asyncmqtype.JobInfo
	now  time.Time
	err  error
	done chan struct{}
	lead chan struct{}
}

const (
	// maxLeaders is how many groups one process writes at once: two, so that one group's
	// statement runs while the other waits for its commit to reach the disk. Each statement costs
	// the server much the same whatever its size, so fewer, larger groups write more jobs per
	// second: with 50 producers on 2 cores, 2 leaders enqueued about 30% more than 4 (groups of
	// about 25 calls instead of 12), and 1 leader no more than 2.
	maxLeaders = 2
	// maxGroupJobs bounds the jobs one statement of a group takes (one call may be larger).
	maxGroupJobs = 1000
	// copyThreshold is the size from which one call's plain jobs go through COPY, which costs
	// less per row than a statement's JSON parameter once the batch is large.
	copyThreshold = 500
	// groupTimeout bounds a group's statement, which runs detached from the leader's context
	// so that its caller giving up does not fail the others.
	groupTimeout = 30 * time.Second
)

func (e *enqueuer) enqueue(ctx context.Context, b *Backend, jobs []*asyncmqtype.JobInfo, now time.Time) error {
	c := &enqueueCall{jobs: jobs, now: now, done: make(chan struct{}), lead: make(chan struct{})}
	e.mu.Lock()
	e.queue = append(e.queue, c)
	if e.leaders < maxLeaders {
		e.leaders++
		close(c.lead)
	}
	e.mu.Unlock()
	gaveUp := ctx.Done()
	for {
		select {
		case <-c.done:
			return c.err
		case <-c.lead:
			e.run(b)
			<-c.done
			return c.err
		case <-gaveUp:
			e.mu.Lock()
			i := slices.Index(e.queue, c)
			if i >= 0 && !isClosed(c.lead) {
				e.queue = slices.Delete(e.queue, i, i+1)
				e.mu.Unlock()
				return fmt.Errorf("wait for the enqueue group: %w", ctx.Err())
			}
			e.mu.Unlock()
			// Taken by a group, or about to lead one: its outcome is being decided.
			gaveUp = nil
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// run writes one group taken from the head of the queue and passes the lead on.
func (e *enqueuer) run(b *Backend) {
	e.mu.Lock()
	n, jobs := 0, 0
	for n < len(e.queue) && (n == 0 || jobs+len(e.queue[n].jobs) <= maxGroupJobs) {
		jobs += len(e.queue[n].jobs)
		n++
	}
	group := slices.Clone(e.queue[:n])
	e.queue = slices.Delete(e.queue, 0, n)
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	b.writeGroup(ctx, group)
	cancel()
	for _, c := range group {
		close(c.done)
	}

	e.mu.Lock()
	// The next queued call that has not been given the lead yet leads next.
	for _, c := range e.queue {
		if !isClosed(c.lead) {
			close(c.lead)
			e.mu.Unlock()
			return
		}
	}
	e.leaders--
	e.mu.Unlock()
}

// writeGroup sets the outcome of every call of the group. The plain calls go in one statement;
// should it fail on a taken ID, they are written again one by one so that only the call at
// fault fails. Calls with unique keys or dependencies each take a transaction.
func (b *Backend) writeGroup(ctx context.Context, group []*enqueueCall) {
	var plainCalls, others []*enqueueCall
	for _, c := range group {
		if plain(c.jobs) {
			plainCalls = append(plainCalls, c)
		} else {
			others = append(others, c)
		}
	}
	db := poolExecer{b.pool}
	if len(plainCalls) > 1 {
		var rows []jobRow
		for _, c := range plainCalls {
			for _, j := range c.jobs {
				rows = append(rows, row(j, len(rows), c.now, 0))
			}
		}
		err := insertRows(ctx, db, rows)
		if err == nil || !errors.Is(err, asyncmqtype.ErrJobExists) {
			at := 0
			for _, c := range plainCalls {
				c.err = err
				if err == nil {
					report(c.jobs, rows[at:at+len(c.jobs)])
					b.wakeJobs(c.jobs, c.now)
				}
				at += len(c.jobs)
			}
			plainCalls = nil
		}
	}
	// A call's jobs are reported before its done is closed (see run), so its caller reads them
	// only then.
	for _, c := range plainCalls {
		var rows []jobRow
		if rows, c.err = insert(ctx, db, c.jobs, c.now); c.err == nil {
			report(c.jobs, rows)
			b.wakeJobs(c.jobs, c.now)
		}
	}
	for _, c := range others {
		var rows []jobRow
		if rows, c.err = b.insertTx(ctx, c.jobs, c.now); c.err == nil {
			report(c.jobs, rows)
			b.wakeJobs(c.jobs, c.now)
		}
	}
}

// insertTx inserts jobs with unique keys or dependencies in a transaction of their own and
// returns the rows it committed.
func (b *Backend) insertTx(ctx context.Context, jobs []*asyncmqtype.JobInfo, now time.Time) ([]jobRow, error) {
	for attempt := 0; ; attempt++ {
		var rows []jobRow
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			var err error
			rows, err = insert(ctx, &txExecer{tx}, jobs, now)
			return err
		})
		if err == nil || !retryable(err) || attempt == 4 {
			return rows, err
		}
	}
}

// wakeJobs signals, once their enqueue committed, the queues that got runnable jobs (see
// notifier.wake). A job with dependencies may be signalled for nothing: a spurious signal costs
// one claim.
func (b *Backend) wakeJobs(jobs []*asyncmqtype.JobInfo, now time.Time) {
	b.notifier.wake(runnableQueues(jobs, now)...)
}

// runnableQueues lists the queues of jobs that are due at now, each once.
func runnableQueues(jobs []*asyncmqtype.JobInfo, now time.Time) []string {
	var out []string
	for _, j := range jobs {
		if !j.RunAt.After(now) && !slices.Contains(out, j.Queue) {
			out = append(out, j.Queue)
		}
	}
	return out
}

// EnqueueTx stores jobs inside the caller's transaction: they are runnable once tx commits, and
// never exist if it rolls back. Jobs need their IDs set (asyncmq.NewID makes them); everything
// else is as for Enqueue, with Now taken from the clock (jobs get the State and PendingDeps they
// are stored with, which hold if tx commits). Workers of every process are notified
// when tx commits.
//
// Jobs with unique keys or dependencies take locks (advisory locks for the keys, row locks on
// the parents) that tx holds until it ends. As with any statement, an error aborts tx.
func (b *Backend) EnqueueTx(ctx context.Context, tx pgx.Tx, jobs ...*asyncmqtype.JobInfo) error {
	return b.enqueueIn(ctx, &txExecer{tx}, jobs)
}

// EnqueueSQLTx is EnqueueTx for a database/sql transaction, whatever its PostgreSQL driver
// (pgx's stdlib, lib/pq): the statements send their rows as one JSON text parameter.
func (b *Backend) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, jobs ...*asyncmqtype.JobInfo) error {
	return b.enqueueIn(ctx, sqlExecer{tx}, jobs)
}

func (b *Backend) enqueueIn(ctx context.Context, db execer, jobs []*asyncmqtype.JobInfo) error {
	if err := (backend.EnqueueParams{Jobs: jobs}).Validate(); err != nil {
		return fmt.Errorf("enqueue jobs in transaction: %w", err)
	}
	if err := checkIDs(jobs); err != nil {
		return fmt.Errorf("enqueue jobs in transaction: %w", err)
	}
	if len(jobs) == 0 {
		return nil
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("enqueue jobs in transaction: %w", err)
	}
	now := b.now()
	rows, err := insert(ctx, db, jobs, now)
	if err != nil {
		return fmt.Errorf("enqueue %d jobs in transaction: %w", len(jobs), err)
	}
	report(jobs, rows)
	// The caller commits, when it likes: the notification goes with its transaction, which
	// PostgreSQL delivers at commit and drops at rollback.
	if wake := runnableQueues(jobs, now); len(wake) > 0 {
		if err := db.exec(ctx, qNotify, b.channel(), wake); err != nil {
			return fmt.Errorf("enqueue %d jobs in transaction: notify their queues: %w", len(jobs), err)
		}
	}
	return nil
}
