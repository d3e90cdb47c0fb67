package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// writer is the one write connection of a Backend. Holding lock (a one-slot semaphore, so that
// waiting for it honours a context) gives the exclusive use of conn and stmts.
//
// Every statement is prepared once and kept: no SQL text holds a value, only one of a finite set
// of shapes (a filter's conditions, a VALUES list of a power-of-two length), so the cache stays
// small.
type writer struct {
	lock  chan struct{}
	db    *sql.DB
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (wr *writer) acquire(ctx context.Context) error {
	select {
	case wr.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (wr *writer) release() { <-wr.lock }

// connection returns the write connection, opening it on first use or after it broke.
func (wr *writer) connection(ctx context.Context) (*sql.Conn, error) {
	if wr.conn != nil {
		return wr.conn, nil
	}
	c, err := wr.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	wr.conn, wr.stmts = c, make(map[string]*sql.Stmt)
	return c, nil
}

// drop forgets a connection that failed in a way that leaves it unusable.
func (wr *writer) drop() {
	if wr.conn == nil {
		return
	}
	for _, st := range wr.stmts {
		st.Close()
	}
	wr.conn.Close()
	wr.conn, wr.stmts = nil, nil
}

// stmt returns q prepared on the write connection, preparing it on first use.
func (wr *writer) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := wr.stmts[q]; st != nil {
		return st, nil
	}
	st, err := wr.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	wr.stmts[q] = st
	return st, nil
}

func (wr *writer) close() error {
	wr.lock <- struct{}{}
	defer wr.release()
	wr.drop()
	return wr.db.Close()
}

// wtx is one write transaction. Besides the SQL transaction it gathers the side effects every
// transition must record atomically: counter deltas, lifecycle events and metrics, which flush
// writes as one statement per kind (per queue for counters, per queue and task for metrics).
type wtx struct {
	b   *Backend
	ctx context.Context
	now time.Time

	counts  map[string]*[numStates]int64
	events  []asyncmqtype.Event
	metrics map[metricKey]*metricDelta
	// committed runs after a successful commit, for process state that must not run ahead of
	// the database.
	committed []func()
	// wake lists the queues whose jobs may have become claimable, to signal after the commit.
	wake []string
	// eventIDs is the range of IDs of the events written, for the watcher (see watch.go).
	eventIDs [2]int64
}

// metricKey names a transaction's metric delta per queue, task and minute; flush writes each
// delta to asyncmq_task_metrics, whose rows per-queue reads sum (see migration 0008).
type metricKey struct {
	queue, task string
	minute      int64
}

type metricDelta struct {
	completed, failed, retried, started int64
	durationSum, waitSum                int64
	durations                           [len(asyncmqtype.DurationBuckets) + 1]int64
}

// durationCols are the columns of asyncmq_task_metrics that count asyncmqtype.DurationBuckets, in
// order (migrations 0002 and 0007).
var durationCols = [len(asyncmqtype.DurationBuckets) + 1]string{
	"d_5ms", "d_10ms", "d_25ms", "d_50ms", "d_100ms", "d_250ms", "d_500ms",
	"d_1s", "d_2500ms", "d_5s", "d_10s", "d_30s", "d_60s", "d_inf",
}

// args are the upsert arguments of the delta after its key columns.
func (m *metricDelta) args(key ...any) []any {
	args := append(make([]any, 0, len(key)+6+len(m.durations)), key...)
	args = append(args, m.completed, m.failed, m.retried, m.durationSum, m.waitSum, m.started)
	for _, n := range m.durations {
		args = append(args, n)
	}
	return args
}

// finished adds one handler run of d to the duration sum and histogram.
func (m *metricDelta) finished(d time.Duration) {
	m.durationSum += int64(d)
	m.durations[asyncmqtype.DurationBucket(d)]++
}

// write runs fn in an immediate transaction on the write connection, retrying while another
// connection holds the database lock (see retryBusy). fn may run more than once, so it must keep
// its effects inside w.
func (b *Backend) write(ctx context.Context, now time.Time, fn func(w *wtx) error) error {
	return b.writeUntil(ctx, now, time.Now().Add(b.cfg.busyTimeout), fn)
}

// writeUntil is write with the time at which waiting for the lock gives up: a call that waited
// in the process before its transaction began (an Enqueue queued behind a group commit) has less
// left of its busy timeout.
func (b *Backend) writeUntil(ctx context.Context, now, lockDeadline time.Time, fn func(w *wtx) error) error {
	if b.closed.Load() {
		return asyncmqtype.ErrClosed
	}
	if err := b.checkIdentity(ctx, false); err != nil {
		return err
	}
	var wake []string
	err := b.retryBusy(ctx, lockDeadline, func() (err error) {
		wake, err = b.writeOnce(ctx, now, fn)
		return err
	})
	if err = b.afterWrite(ctx, err); err != nil {
		return b.fail(err)
	}
	// Signals go out once the transaction committed and the write connection is free.
	b.notify(wake)
	return nil
}

// Lock polling: the write connection has no SQLite busy handler, whose sleeps grow to 100ms
// and so let a busy writer in another process take the lock again and again before the sleeper
// looks; polling every few hundred microseconds gives every process its turn.
const (
	minLockPoll = 100 * time.Microsecond
	maxLockPoll = 2 * time.Millisecond
	// slowLock is how long a write may wait for the lock before it is logged.
	slowLock = time.Second
)

// retryBusy runs try until it does not fail with SQLITE_BUSY, the deadline passes or ctx ends.
// The deadline is the caller's start plus the busy timeout, fixed by the caller, so the time a
// call spent waiting in the process counts against the same budget as the time it polls.
func (b *Backend) retryBusy(ctx context.Context, deadline time.Time, try func() error) error {
	var start time.Time
	delay := minLockPoll
	for {
		err := try()
		if err == nil || !isBusy(err) {
			if !start.IsZero() {
				if waited := time.Since(start); waited >= slowLock {
					b.cfg.logger.WarnContext(ctx, "sqlite write waited long for the database lock", "path", b.path, "waited", waited)
				}
			}
			return err
		}
		if start.IsZero() {
			start = time.Now()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("database stayed locked by another connection for the busy timeout %s: %w", b.cfg.busyTimeout, err)
		}
		t := time.NewTimer(min(delay/2+rand.N(delay), left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the database lock: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, maxLockPoll)
	}
}

// writeOnce runs one attempt of a write transaction and returns the queues to signal once it
// committed. BEGIN IMMEDIATE takes SQLite's write lock up front, so the transaction cannot fail
// later for want of it.
func (b *Backend) writeOnce(ctx context.Context, now time.Time, fn func(w *wtx) error) ([]string, error) {
	wr := b.w
	if err := wr.acquire(ctx); err != nil {
		return nil, fmt.Errorf("wait for the write connection: %w", err)
	}
	defer wr.release()
	if b.closed.Load() {
		return nil, asyncmqtype.ErrClosed
	}
	if _, err := wr.connection(ctx); err != nil {
		return nil, fmt.Errorf("open write connection: %w", err)
	}
	w := &wtx{b: b, ctx: ctx, now: now}
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		b.dropIfBroken(err)
		return nil, fmt.Errorf("begin write transaction: %w", err)
	}
	defer func() {
		// A panic in fn, which an HTTP server recovers from, must not leave the connection in
		// the transaction: it would hold SQLite's write lock until the process exits.
		if p := recover(); p != nil {
			b.rollback(ctx)
			panic(p)
		}
	}()
	err := fn(w)
	if err == nil {
		err = w.flush()
	}
	if err == nil {
		// The watcher learns of this Backend's events before they become visible, so it never
		// signals them a second time; a failed commit takes them back.
		own := w.eventIDs[1] > 0 && b.wrote(w.eventIDs)
		if _, err = w.exec("COMMIT"); err != nil && own {
			b.unwrote(w.eventIDs)
		}
		if err == nil {
			if len(w.counts) > 0 {
				b.anchors.moved(w.counts)
			}
			for _, f := range w.committed {
				f()
			}
			return w.wake, nil
		}
		err = fmt.Errorf("commit: %w", err)
	}
	b.rollback(ctx)
	return nil, err
}

// rollback ends the open write transaction, dropping the connection if that fails. It runs
// even when ctx ended: the connection is reused.
func (b *Backend) rollback(ctx context.Context) {
	if _, err := b.w.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil && !noTx(err) {
		b.w.drop()
	}
}

// dropIfBroken discards the write connection after an error database/sql reports as fatal to it.
func (b *Backend) dropIfBroken(err error) {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		b.w.drop()
	}
}

// noTx reports the error of a ROLLBACK that found no transaction, which SQLite gives when a
// failed statement already rolled it back.
func noTx(err error) bool {
	return strings.Contains(err.Error(), "no transaction is active")
}

// errLockTimeout is the cause of a call that gave up waiting, in the process, for a transaction
// that was itself waiting for the database lock.
var errLockTimeout = errors.New("database is locked")

func isBusy(err error) bool {
	if errors.Is(err, errLockTimeout) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// exec runs one statement, prepared and cached on the write connection.
func (w *wtx) exec(q string, args ...any) (sql.Result, error) {
	st, err := w.b.w.stmt(w.ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(w.ctx, args...)
}

// script runs statements that are executed once, such as a migration, without preparing them.
func (w *wtx) script(q string) error {
	_, err := w.b.w.conn.ExecContext(w.ctx, q)
	return err
}

func (w *wtx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := w.b.w.stmt(w.ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(w.ctx, args...)
}

// queryRow is QueryRow on a cached statement; a preparation error comes out of Scan.
func (w *wtx) queryRow(q string, args ...any) scanner {
	st, err := w.b.w.stmt(w.ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(w.ctx, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// count records that a job of queue moved from one state to another; an empty from is a new
// job and an empty to a deleted one.
func (w *wtx) count(queue string, from, to asyncmqtype.State) {
	if from == to {
		return
	}
	if w.counts == nil {
		w.counts = make(map[string]*[numStates]int64)
	}
	c := w.counts[queue]
	if c == nil {
		c = new([numStates]int64)
		w.counts[queue] = c
	}
	if from != "" {
		c[stateIndex(from)]--
	}
	if to != "" {
		c[stateIndex(to)]++
	}
}

// cloneCounts copies the counter deltas, to restore them when a savepoint is rolled back.
func (w *wtx) cloneCounts() map[string]*[numStates]int64 {
	if w.counts == nil {
		return nil
	}
	c := make(map[string]*[numStates]int64, len(w.counts))
	for q, d := range w.counts {
		cp := *d
		c[q] = &cp
	}
	return c
}

// touch makes queue known without changing its counts.
func (w *wtx) touch(queue string) {
	if w.counts == nil {
		w.counts = make(map[string]*[numStates]int64)
	}
	if w.counts[queue] == nil {
		w.counts[queue] = new([numStates]int64)
	}
}

func (w *wtx) event(e asyncmqtype.Event) {
	e.At = w.now
	w.events = append(w.events, e)
	// A job that became waiting, or a queue that resumed, may be claimable now.
	if (e.State == asyncmqtype.StateWaiting && e.JobID != "") || (e.Type == asyncmqtype.EventQueue && e.Detail == "resumed") {
		w.wakeQueue(e.Queue)
	}
}

// wakeQueue has queue signalled after the commit.
func (w *wtx) wakeQueue(queue string) {
	// A transaction touches few queues, and often the same one many times in a row.
	for i := len(w.wake) - 1; i >= 0; i-- {
		if w.wake[i] == queue {
			return
		}
	}
	w.wake = append(w.wake, queue)
}

func (w *wtx) metric(queue, task string) *metricDelta {
	if w.metrics == nil {
		w.metrics = make(map[metricKey]*metricDelta)
	}
	k := metricKey{queue, task, w.now.Truncate(time.Minute).UnixNano()}
	d := w.metrics[k]
	if d == nil {
		d = new(metricDelta)
		w.metrics[k] = d
	}
	return d
}

var (
	qCountUpsert = `INSERT INTO asyncmq_queues (name, waiting, active, delayed, completed, failed, cancelled,
	waiting_children)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
	waiting_children = waiting_children + excluded.waiting_children,
	waiting = waiting + excluded.waiting,
	active = active + excluded.active,
	delayed = delayed + excluded.delayed,
	completed = completed + excluded.completed,
	failed = failed + excluded.failed,
	cancelled = cancelled + excluded.cancelled`
	qTaskMetricUpsert = metricUpsert("asyncmq_task_metrics", "queue, minute, task")
	qTaskMetricPrune  = `DELETE FROM asyncmq_task_metrics WHERE minute < ?`
	// qOldMetricPrune empties asyncmq_metrics of what processes from before migration 0008 wrote.
	qOldMetricPrune = `DELETE FROM asyncmq_metrics WHERE minute < ?`
	qEventInsert    = `INSERT INTO asyncmq_events (type, queue, job_id, task, state, at, detail) VALUES %s`
	qEventPrune     = `DELETE FROM asyncmq_events WHERE id <= ?`
)

// metricUpsert adds one metricDelta to its bucket of table, keyed by the columns of key,
// creating it if needed.
func metricUpsert(table, key string) string {
	cols := append([]string{"completed", "failed", "retried", "duration_sum", "wait_sum", "started"}, durationCols[:]...)
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = c + " = " + c + " + excluded." + c
	}
	return `INSERT INTO ` + table + ` (` + key + `, ` + strings.Join(cols, ", ") + `)
VALUES (` + strings.Repeat("?, ", strings.Count(key, ",")) + `?` + strings.Repeat(", ?", len(cols)) + `)
ON CONFLICT (` + key + `) DO UPDATE SET ` + strings.Join(sets, ", ")
}

// flush writes the gathered counters, events and metrics.
func (w *wtx) flush() error {
	for q, c := range w.counts {
		if _, err := w.exec(qCountUpsert, q, c[0], c[1], c[2], c[3], c[4], c[5], c[6]); err != nil {
			return fmt.Errorf("update counters of queue %q: %w", q, err)
		}
	}
	if len(w.metrics) > 0 {
		for k, d := range w.metrics {
			if _, err := w.exec(qTaskMetricUpsert, d.args(k.queue, k.minute, k.task)...); err != nil {
				return fmt.Errorf("update metrics of task %q of queue %q: %w", k.task, k.queue, err)
			}
		}
		// Prune at most once a minute per process; the minute index makes it a range delete.
		sec := w.now.Unix()
		if sec-w.b.metricsPrunedAt.Load() >= 60 {
			for _, q := range [...]string{qTaskMetricPrune, qOldMetricPrune} {
				if _, err := w.exec(q, w.now.Add(-w.b.cfg.metricRetention).UnixNano()); err != nil {
					return fmt.Errorf("prune metrics: %w", err)
				}
			}
			w.committed = append(w.committed, func() { w.b.metricsPrunedAt.Store(sec) })
		}
	}
	if len(w.events) == 0 {
		return nil
	}
	rows := make([][]any, len(w.events))
	for i, e := range w.events {
		rows[i] = []any{string(e.Type), e.Queue, e.JobID, e.Task, string(e.State), e.At.UnixNano(), short(e.Detail)}
	}
	res, err := w.eachRun(qEventInsert, nil, rows, nil)
	if err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	last, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	// Deleting the oldest events in chunks keeps the cost per event constant and the table
	// within retention plus one chunk.
	if last >= w.b.pruneAt.Load() {
		keep := int64(w.b.cfg.eventRetention)
		if _, err := w.exec(qEventPrune, last-keep); err != nil {
			return fmt.Errorf("prune events: %w", err)
		}
		next := last + min(max(keep/10, 1), 1000)
		w.committed = append(w.committed, func() { w.b.pruneAt.Store(next) })
	}
	w.eventIDs = [2]int64{last - int64(len(w.events)) + 1, last}
	return nil
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
