package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const numStates = asyncmqtype.NumStates

// stateIndex orders the states as the counter columns of asyncmq_queues, which follow
// asyncmqtype.State.Index.
func stateIndex(s asyncmqtype.State) int {
	if i := s.Index(); i >= 0 {
		return i
	}
	panic(fmt.Sprintf("asyncmq/backend/sqlite: unknown state %q", s))
}

// Times are stored as Unix nanoseconds, which cover 1678 to 2262. Stored times are refused
// outside that range by the shared validation (asyncmqtype.ValidateTime); query bounds beyond it
// (a "since" or "before" far away) are clamped, which keeps their meaning.
var (
	minNanoTime = time.Unix(0, math.MinInt64+1)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// nanos encodes t for a column; the zero time is NULL.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return nanoInt(t)
}

func nanoInt(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64 + 1
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// text returns b as a string column value, NULL when b is empty.
func text(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// jsonArg encodes v for a json_each(?) parameter.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode statement argument: %w", err)
	}
	return string(b), nil
}

const jobCols = `id, queue, task, payload, state, priority, attempts, max_retries,
	backoff_kind, backoff_base, backoff_max, backoff_jitter, timeout, run_at, created_at,
	started_at, finished_at, result, progress, errors, worker_id, lease_token, lease_expires_at,
	stalls, unique_key, unique_until, depends_on, pending_deps, cancel_requested, repeatable_id, on_parent_failure,
	headers`

// briefCols are the columns of a brief listing (asyncmqtype.ListJobsParams.Brief): what the
// dashboard's job lists show, a third of jobCols, whose reading is most of a page's cost.
const briefCols = `id, queue, task, payload, state, priority, attempts, max_retries, run_at, created_at, errors`

// scanner is what *sql.Row and *sql.Rows share, so one scan function reads either.
type scanner interface {
	Scan(dest ...any) error
}

// scanJob reads one row selected with jobCols.
func scanJob(s scanner) (*asyncmqtype.JobInfo, error) {
	var (
		j                                          asyncmqtype.JobInfo
		state, bkind                               string
		bbase, bmax, timeout, runAt, createdAt     int64
		started, finished, leaseExp, uniqueUntil   sql.NullInt64
		uniqueKey                                  sql.NullString
		payload, result, progress, errs, dependsOn []byte
		headers                                    []byte
		cancel                                     int
		onParent                                   string
	)
	err := s.Scan(&j.ID, &j.Queue, &j.Task, &payload, &state, &j.Priority, &j.Attempts, &j.MaxRetries,
		&bkind, &bbase, &bmax, &j.Backoff.Jitter, &timeout, &runAt, &createdAt,
		&started, &finished, &result, &progress, &errs, &j.WorkerID, &j.LeaseToken, &leaseExp,
		&j.Stalls, &uniqueKey, &uniqueUntil, &dependsOn, &j.PendingDeps, &cancel, &j.RepeatableID, &onParent,
		&headers)
	if err != nil {
		return nil, err
	}
	j.State = asyncmqtype.State(state)
	j.Backoff.Kind = asyncmqtype.BackoffKind(bkind)
	j.Backoff.Base = time.Duration(bbase)
	j.Backoff.Max = time.Duration(bmax)
	j.Timeout = time.Duration(timeout)
	j.RunAt = fromNanos(runAt)
	j.CreatedAt = fromNanos(createdAt)
	j.StartedAt = fromNull(started)
	j.FinishedAt = fromNull(finished)
	j.LeaseExpiresAt = fromNull(leaseExp)
	j.UniqueKey = uniqueKey.String
	j.UniqueUntil = fromNull(uniqueUntil)
	j.CancelRequested = cancel != 0
	j.OnParentFailure = asyncmqtype.ParentFailure(onParent)
	if payload != nil {
		j.Payload = json.RawMessage(payload)
	}
	if result != nil {
		j.Result = json.RawMessage(result)
	}
	if progress != nil {
		j.Progress = json.RawMessage(progress)
	}
	if j.Errors, err = backend.DecodeAttemptErrors(j.ID, errs); err != nil {
		return nil, err
	}
	if dependsOn != nil {
		if err := json.Unmarshal(dependsOn, &j.DependsOn); err != nil {
			return nil, fmt.Errorf("decode dependencies of job %q: %w", j.ID, err)
		}
	}
	if j.Headers, err = backend.DecodeHeaders(j.ID, headers); err != nil {
		return nil, err
	}
	return &j, nil
}

// scanBriefJob reads one row selected with briefCols.
func scanBriefJob(s scanner) (*asyncmqtype.JobInfo, error) {
	var (
		j               asyncmqtype.JobInfo
		state           string
		runAt, created  int64
		payload, errs   []byte
		prio, att, maxr int64
	)
	if err := s.Scan(&j.ID, &j.Queue, &j.Task, &payload, &state, &prio, &att, &maxr, &runAt, &created, &errs); err != nil {
		return nil, err
	}
	j.State = asyncmqtype.State(state)
	j.Priority, j.Attempts, j.MaxRetries = int(prio), int(att), int(maxr)
	j.RunAt = fromNanos(runAt)
	j.CreatedAt = fromNanos(created)
	if payload != nil {
		j.Payload = json.RawMessage(payload)
	}
	var err error
	if j.Errors, err = backend.DecodeAttemptErrors(j.ID, errs); err != nil {
		return nil, err
	}
	return &j, nil
}

// scanJobs reads every row of rows, selected with jobCols, and closes it.
func scanJobs(rows *sql.Rows) ([]*asyncmqtype.JobInfo, error) { return scanRows(rows, scanJob) }

// scanRows reads every row of rows with scan and closes it.
func scanRows(rows *sql.Rows, scan func(scanner) (*asyncmqtype.JobInfo, error)) ([]*asyncmqtype.JobInfo, error) {
	defer rows.Close()
	var out []*asyncmqtype.JobInfo
	for rows.Next() {
		j, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
