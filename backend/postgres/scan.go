package postgres

import (
	"encoding/json"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// jobCols are the columns scanJob reads, in its order.
const jobCols = `id, queue, task, payload, state, priority, attempts, max_retries,
	backoff_kind, backoff_base, backoff_max, backoff_jitter, timeout, run_at, created_at,
	started_at, finished_at, result, progress, errors, worker_id, lease_token, lease_expires_at,
	stalls, unique_key, unique_until, depends_on, pending_deps, cancel_requested, repeatable_id, on_parent_failure,
	headers`

// scanJob reads one row selected with jobCols.
func scanJob(row pgx.Row) (*asyncmqtype.JobInfo, error) {
	var (
		j                                        asyncmqtype.JobInfo
		state, bkind, onParent                   string
		bbase, bmax, timeout                     int64
		runAt, createdAt                         time.Time
		started, finished, leaseExp, uniqueUntil *time.Time
		uniqueKey                                *string
		payload, result, progress, errs, headers []byte
	)
	err := row.Scan(&j.ID, &j.Queue, &j.Task, &payload, &state, &j.Priority, &j.Attempts, &j.MaxRetries,
		&bkind, &bbase, &bmax, &j.Backoff.Jitter, &timeout, &runAt, &createdAt,
		&started, &finished, &result, &progress, &errs, &j.WorkerID, &j.LeaseToken, &leaseExp,
		&j.Stalls, &uniqueKey, &uniqueUntil, &j.DependsOn, &j.PendingDeps, &j.CancelRequested, &j.RepeatableID, &onParent,
		&headers)
	if err != nil {
		return nil, err
	}
	j.State = asyncmqtype.State(state)
	j.OnParentFailure = asyncmqtype.ParentFailure(onParent)
	j.Backoff.Kind = asyncmqtype.BackoffKind(bkind)
	j.Backoff.Base = time.Duration(bbase)
	j.Backoff.Max = time.Duration(bmax)
	j.Timeout = time.Duration(timeout)
	j.RunAt = runAt.UTC()
	j.CreatedAt = createdAt.UTC()
	j.StartedAt = utc(started)
	j.FinishedAt = utc(finished)
	j.LeaseExpiresAt = utc(leaseExp)
	j.UniqueUntil = utc(uniqueUntil)
	if uniqueKey != nil {
		j.UniqueKey = *uniqueKey
	}
	if len(j.DependsOn) == 0 {
		j.DependsOn = nil
	}
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
	if j.Headers, err = backend.DecodeHeaders(j.ID, headers); err != nil {
		return nil, err
	}
	return &j, nil
}

// briefCols are the columns a listing shows (asyncmqtype.ListJobsParams.Brief), in the order
// scanBrief reads them: a page of brief jobs decodes a third of the columns of a full one.
const briefCols = `id, queue, task, payload, state, priority, attempts, max_retries, run_at, created_at, errors`

// listCols returns the columns a listing reads: briefCols when brief, else jobCols.
func listCols(brief bool) string {
	if brief {
		return briefCols
	}
	return jobCols
}

// scanBrief reads one row selected with briefCols.
func scanBrief(row pgx.Row) (*asyncmqtype.JobInfo, error) {
	var (
		j                asyncmqtype.JobInfo
		state            string
		runAt, createdAt time.Time
		payload, errs    []byte
	)
	err := row.Scan(&j.ID, &j.Queue, &j.Task, &payload, &state, &j.Priority, &j.Attempts, &j.MaxRetries, &runAt, &createdAt, &errs)
	if err != nil {
		return nil, err
	}
	j.State = asyncmqtype.State(state)
	j.RunAt = runAt.UTC()
	j.CreatedAt = createdAt.UTC()
	if payload != nil {
		j.Payload = json.RawMessage(payload)
	}
	if j.Errors, err = backend.DecodeAttemptErrors(j.ID, errs); err != nil {
		return nil, err
	}
	return &j, nil
}

// scanListing reads every row of a listing selected with listCols(brief) and closes it.
func scanListing(rows pgx.Rows, brief bool) ([]*asyncmqtype.JobInfo, error) {
	if brief {
		return scanAll(rows, scanBrief)
	}
	return scanAll(rows, scanJob)
}

// scanJobs reads every row of rows, selected with jobCols, and closes it.
func scanJobs(rows pgx.Rows) ([]*asyncmqtype.JobInfo, error) { return scanAll(rows, scanJob) }

// scanAll reads every row of rows with scan and closes it.
func scanAll(rows pgx.Rows, scan func(pgx.Row) (*asyncmqtype.JobInfo, error)) ([]*asyncmqtype.JobInfo, error) {
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

// utc returns a nullable column's time in UTC, the zero time for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime encodes the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// jsonText returns b as a nullable text parameter cast to jsonb by the statement.
func jsonText(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}
