package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execer is what enqueue needs of a connection: a pgx transaction or pool, or a database/sql
// transaction (see EnqueueSQLTx). Every statement takes its rows as one JSON text parameter, so
// any driver can send it.
type execer interface {
	exec(ctx context.Context, q string, args ...any) error
	queryRow(ctx context.Context, q string, args ...any) pgx.Row
}

// pgxQuerier is a pgx pool, connection or transaction.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// poolExecer runs each statement in a transaction of its own.
type poolExecer struct{ q pgxQuerier }

func (e poolExecer) exec(ctx context.Context, q string, args ...any) error {
	_, err := e.q.Exec(ctx, q, args...)
	return err
}

func (e poolExecer) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	return e.q.QueryRow(ctx, q, args...)
}

// txExecer runs statements in a pgx transaction.
type txExecer struct{ q pgxQuerier }

func (e *txExecer) exec(ctx context.Context, q string, args ...any) error {
	_, err := e.q.Exec(ctx, q, args...)
	return err
}

func (e *txExecer) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	return e.q.QueryRow(ctx, q, args...)
}

// sqlExecer runs statements in a database/sql transaction, whatever its driver.
type sqlExecer struct{ tx *sql.Tx }

func (e sqlExecer) exec(ctx context.Context, q string, args ...any) error {
	_, err := e.tx.ExecContext(ctx, q, args...)
	return err
}

func (e sqlExecer) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	return e.tx.QueryRowContext(ctx, q, args...)
}

// Enqueue stores p.Jobs all-or-nothing.
//
// Calls made at the same time are written together (see enqueuer): a web server enqueueing one
// job per request pays for one statement and one commit per group of requests. A call of more
// than copyThreshold jobs without unique keys or dependencies goes through COPY.
//
// A job's UniqueKey is live while its UniqueUntil is in the future or, when UniqueUntil is zero,
// until the job ends. A job whose parents have not all completed is stored waiting-children with
// PendingDeps > 0 and is not claimed until they complete. Once the call succeeds, each job of
// p.Jobs has State and PendingDeps as stored, with no read back.
func (b *Backend) Enqueue(ctx context.Context, p backend.EnqueueParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := checkIDs(p.Jobs); err != nil {
		return fmt.Errorf("enqueue jobs: %w", err)
	}
	if len(p.Jobs) == 0 {
		return nil
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("enqueue jobs: %w", err)
	}
	now := b.clock(p.Now)
	var err error
	switch {
	case len(p.Jobs) >= copyThreshold && plain(p.Jobs):
		err = b.copyJobs(ctx, p.Jobs, now)
	default:
		err = b.enq.enqueue(ctx, b, p.Jobs, now)
	}
	if err != nil {
		if len(p.Jobs) == 1 {
			return fmt.Errorf("enqueue job %q: %w", p.Jobs[0].ID, b.fail(err))
		}
		return fmt.Errorf("enqueue %d jobs: %w", len(p.Jobs), b.fail(err))
	}
	return nil
}

// plain reports jobs with neither unique keys nor dependencies: their insert needs no check
// before it, so a batch of them is one statement (headers go through COPY with the rest). (A parent-failure policy without parents means
// nothing, but such a job is not plain either, so that COPY, which leaves the column out, never
// drops it.)
func plain(jobs []*asyncmqtype.JobInfo) bool {
	for _, j := range jobs {
		if j.UniqueKey != "" || len(j.DependsOn) > 0 || j.OnParentFailure != "" {
			return false
		}
	}
	return true
}

// checkIDs refuses a call that names one job ID twice: the second would collide with the first.
func checkIDs(jobs []*asyncmqtype.JobInfo) error {
	seen := make(map[string]struct{}, len(jobs))
	for _, j := range jobs {
		if _, dup := seen[j.ID]; dup {
			return fmt.Errorf("job %q appears twice: %w", j.ID, asyncmqtype.ErrJobExists)
		}
		seen[j.ID] = struct{}{}
	}
	return nil
}

// jobRow is one job as the insert statement reads it from its JSON parameter; the field names
// are the column names of the statement's record definition.
type jobRow struct {
	N             int        `json:"n"`
	ID            string     `json:"id"`
	Queue         string     `json:"queue"`
	Task          string     `json:"task"`
	Payload       *string    `json:"payload"`
	State         string     `json:"state"`
	Priority      int        `json:"priority"`
	MaxRetries    int        `json:"max_retries"`
	BackoffKind   string     `json:"backoff_kind"`
	BackoffBase   int64      `json:"backoff_base"`
	BackoffMax    int64      `json:"backoff_max"`
	BackoffJitter float64    `json:"backoff_jitter"`
	Timeout       int64      `json:"timeout"`
	RunAt         time.Time  `json:"run_at"`
	CreatedAt     time.Time  `json:"created_at"`
	UniqueKey     *string    `json:"unique_key"`
	UniqueUntil   *time.Time `json:"unique_until"`
	DependsOn     []string   `json:"depends_on"`
	PendingDeps   int        `json:"pending_deps"`
	RepeatableID  string     `json:"repeatable_id"`
	OnParent      string     `json:"on_parent_failure"`
	// Headers is left out when the job has none, which the statement reads as NULL.
	Headers map[string]string `json:"headers,omitempty"`
	// At is the enqueue's Now, the time of its event.
	At time.Time `json:"at"`
}

// row converts a checked job for insertion at now; pending is its number of parents that have
// not completed.
func row(j *asyncmqtype.JobInfo, n int, now time.Time, pending int) jobRow {
	runAt := j.RunAt
	if runAt.IsZero() {
		runAt = now
	}
	created := j.CreatedAt
	if created.IsZero() {
		created = now
	}
	state := asyncmqtype.StateWaiting
	if runAt.After(now) {
		state = asyncmqtype.StateDelayed
	}
	if pending > 0 {
		state = asyncmqtype.StateWaitingChildren
	}
	r := jobRow{N: n, ID: j.ID, Queue: j.Queue, Task: j.Task, Payload: jsonText(j.Payload), State: string(state),
		Priority: j.Priority, MaxRetries: j.MaxRetries, BackoffKind: string(j.Backoff.Kind),
		BackoffBase: int64(j.Backoff.Base), BackoffMax: int64(j.Backoff.Max), BackoffJitter: j.Backoff.Jitter,
		Timeout: int64(j.Timeout), RunAt: runAt.UTC(), CreatedAt: created.UTC(), UniqueUntil: nullTime(j.UniqueUntil),
		DependsOn: j.DependsOn, PendingDeps: pending, RepeatableID: j.RepeatableID, At: now.UTC(),
		OnParent: string(j.OnParentFailure), Headers: j.Headers}
	if j.UniqueKey != "" {
		k := j.UniqueKey
		r.UniqueKey = &k
	}
	return r
}

// qInsert inserts the jobs of $1, makes their queues known and records their job:enqueued
// events, in one statement: one log row per enqueue time (a group of calls may have several).
// It notifies nobody: see wakeJobs.
const qInsert = `WITH r AS (
	SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(n int, id text, queue text, task text, payload text,
		state text, priority int, max_retries int, backoff_kind text, backoff_base bigint, backoff_max bigint,
		backoff_jitter float8, timeout bigint, run_at timestamptz, created_at timestamptz, unique_key text,
		unique_until timestamptz, depends_on text[], pending_deps int, repeatable_id text, at timestamptz,
		on_parent_failure text, headers jsonb)
), ins AS (
	INSERT INTO asyncmq_jobs (id, queue, task, payload, state, priority, max_retries, backoff_kind,
		backoff_base, backoff_max, backoff_jitter, timeout, run_at, created_at, unique_key, unique_until,
		depends_on, pending_deps, repeatable_id, on_parent_failure, headers)
	SELECT id, queue, task, payload::jsonb, state, priority, max_retries, backoff_kind, backoff_base,
		backoff_max, backoff_jitter, timeout, run_at, created_at, unique_key, unique_until, depends_on,
		pending_deps, repeatable_id, on_parent_failure, headers
	FROM r ORDER BY n
), qs AS (
	INSERT INTO asyncmq_queues (name) SELECT DISTINCT queue FROM r ON CONFLICT DO NOTHING
)
INSERT INTO asyncmq_event_log (type, queue, at, queues, job_ids, tasks, states)
SELECT 'job:enqueued', '', at, array_agg(queue ORDER BY n), array_agg(id ORDER BY n), array_agg(task ORDER BY n),
	array_agg(state ORDER BY n)
FROM r GROUP BY at ORDER BY min(n)`

// qLockKeys takes the transaction advisory locks of unique keys ($1, a JSON array of texts), in
// one order, so two enqueues of one key wait for each other instead of both passing the check.
const qLockKeys = `SELECT count(pg_advisory_xact_lock(k)) FROM (
	SELECT DISTINCT hashtextextended('asyncmq.unique.' || current_schema() || '.' || x, 0) AS k
	FROM jsonb_array_elements_text($1::jsonb) AS x ORDER BY k) s`

const qUniqueLive = `SELECT j.queue, j.unique_key, j.id FROM jsonb_to_recordset($1::jsonb) AS v(queue text, key text)
JOIN asyncmq_jobs AS j ON j.queue = v.queue AND j.unique_key = v.key
WHERE j.unique_until > $2 OR (j.unique_until IS NULL AND j.state NOT IN ('completed', 'failed', 'cancelled'))
LIMIT 1`

// qParents marks the parents as having children and returns their states. The update takes the
// parents' row locks, so a Finish completing one of them either ran before (the state read here
// is completed) or waits for this transaction and then sees has_children (see finish.go).
const qParents = `WITH p AS (
	UPDATE asyncmq_jobs SET has_children = true WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))
	RETURNING id, state)
SELECT coalesce(jsonb_object_agg(id, state), '{}')::text FROM p`

const qDepInsert = `INSERT INTO asyncmq_job_deps (parent, child)
SELECT e->>0, e->>1 FROM jsonb_array_elements($1::jsonb) AS e ON CONFLICT DO NOTHING`

// insert stores checked jobs through db, which must be a transaction when any job has a unique
// key or dependencies (their checks hold locks until it ends); plain jobs need no transaction.
// It returns the rows written, in the order of jobs, for report once they are committed; jobs
// are left as they are.
func insert(ctx context.Context, db execer, jobs []*asyncmqtype.JobInfo, now time.Time) ([]jobRow, error) {
	if err := checkUnique(ctx, db, jobs, now); err != nil {
		return nil, err
	}
	parentDone, err := parents(ctx, db, jobs)
	if err != nil {
		return nil, err
	}
	rows := make([]jobRow, len(jobs))
	var edges [][2]string
	for i, j := range jobs {
		pending := 0
		for _, p := range uniq(j.DependsOn) {
			if !parentDone[p] {
				pending++
				edges = append(edges, [2]string{p, j.ID})
			}
		}
		rows[i] = row(j, i, now, pending)
	}
	if err := insertRows(ctx, db, rows); err != nil {
		return nil, err
	}
	if len(edges) > 0 {
		arg, err := json.Marshal(edges)
		if err != nil {
			return nil, fmt.Errorf("encode job dependencies: %w", err)
		}
		if err := db.exec(ctx, qDepInsert, string(arg)); err != nil {
			return nil, fmt.Errorf("insert job dependencies: %w", err)
		}
	}
	return rows, nil
}

// report sets State and PendingDeps of jobs to those of rows, the rows written for them in order:
// the caller learns what was stored without reading it back.
func report(jobs []*asyncmqtype.JobInfo, rows []jobRow) {
	for i, j := range jobs {
		j.State, j.PendingDeps = asyncmqtype.State(rows[i].State), rows[i].PendingDeps
	}
}

func checkUnique(ctx context.Context, db execer, jobs []*asyncmqtype.JobInfo, now time.Time) error {
	type key struct {
		Queue string `json:"queue"`
		Key   string `json:"key"`
	}
	var keys []key
	var locks []string
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
		if j.UniqueUntil.IsZero() || j.UniqueUntil.After(now) {
			seen[k] = j.ID
		}
		keys = append(keys, k)
		locks = append(locks, j.Queue+"\x1f"+j.UniqueKey)
	}
	if len(keys) == 0 {
		return nil
	}
	larg, err := json.Marshal(locks)
	if err != nil {
		return fmt.Errorf("encode unique keys: %w", err)
	}
	var n int
	if err := db.queryRow(ctx, qLockKeys, string(larg)).Scan(&n); err != nil {
		return fmt.Errorf("lock unique keys: %w", err)
	}
	arg, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("encode unique keys: %w", err)
	}
	var queue, ukey, holder string
	err = db.queryRow(ctx, qUniqueLive, string(arg), now).Scan(&queue, &ukey, &holder)
	switch {
	case err == nil:
		return fmt.Errorf("unique key %q of queue %q is held by job %q: %w", ukey, queue, holder, asyncmqtype.ErrDuplicateJob)
	case !errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("check unique keys: %w", err)
	}
	return nil
}

// parents checks that every parent named in DependsOn exists, in the store or in the batch, and
// reports which of them have completed.
func parents(ctx context.Context, db execer, jobs []*asyncmqtype.JobInfo) (map[string]bool, error) {
	inBatch := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		inBatch[j.ID] = true
	}
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
	slices.Sort(ids) // one lock order for every enqueue
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("encode parent IDs: %w", err)
	}
	var states string
	if err := db.queryRow(ctx, qParents, string(arg)).Scan(&states); err != nil {
		return nil, fmt.Errorf("look up parent jobs: %w", err)
	}
	found := map[string]string{}
	if err := json.Unmarshal([]byte(states), &found); err != nil {
		return nil, fmt.Errorf("look up parent jobs: %w", err)
	}
	done := make(map[string]bool, len(ids))
	for _, id := range ids {
		st, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("parent job %q: %w", id, asyncmqtype.ErrJobNotFound)
		}
		done[id] = asyncmqtype.State(st) == asyncmqtype.StateCompleted
	}
	return done, nil
}

// insertRows runs qInsert.
func insertRows(ctx context.Context, db execer, rows []jobRow) error {
	arg, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("encode jobs: %w", err)
	}
	if err := db.exec(ctx, qInsert, string(arg)); err != nil {
		return insertError(err)
	}
	return nil
}

// insertError turns a duplicate primary key into asyncmqtype.ErrJobExists naming the job, which
// PostgreSQL's error detail gives ("Key (id)=(x) already exists.").
func insertError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "asyncmq_jobs_pkey" {
		id := strings.TrimSuffix(strings.TrimPrefix(pe.Detail, "Key (id)=("), ") already exists.")
		return fmt.Errorf("job %q: %w", id, asyncmqtype.ErrJobExists)
	}
	if strings.Contains(err.Error(), "asyncmq_jobs_pkey") {
		// Another driver (EnqueueSQLTx): the message names the constraint, not always the key.
		return fmt.Errorf("%v: %w", err, asyncmqtype.ErrJobExists)
	}
	return fmt.Errorf("insert jobs: %w", err)
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
