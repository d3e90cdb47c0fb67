package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// claimSQL builds the claim statement. gate is a query of (name, n) rows: the queues to take
// from and how many jobs each may give. Each queue's runnable jobs are read from the front of
// the claim index with FOR UPDATE SKIP LOCKED, so concurrent claims take different jobs without
// waiting for each other; the best $3 of all queues are claimed, and their job:started events
// and metrics (per queue and per task, see migration 0005) are written in the same statement.
//
// $1 queues, $2 now, $3 limit, $4 lease expiry, $5 worker, $6 metrics minute.
func claimSQL(gate string) string {
	return `WITH gate AS (` + gate + `), picked AS (
	SELECT c.id, c.priority, c.run_at FROM gate CROSS JOIN LATERAL (
		SELECT id, priority, run_at FROM asyncmq_jobs
		WHERE queue = gate.name AND state = 'waiting' AND pending_deps = 0 AND run_at <= $2
		ORDER BY priority, run_at, id LIMIT gate.n FOR UPDATE SKIP LOCKED) c
	ORDER BY c.priority, c.run_at, c.id LIMIT $3
), upd AS (
	UPDATE asyncmq_jobs j SET state = 'active', lease_token = gen_random_uuid()::text, lease_expires_at = $4,
		attempts = j.attempts + 1, started_at = $2, finished_at = NULL, worker_id = $5, cancel_requested = false
	FROM picked WHERE j.id = picked.id
	RETURNING ` + prefixed("j", jobCols) + `
), ev AS (
	INSERT INTO asyncmq_event_log (type, queue, state, at, queues, job_ids, tasks)
	SELECT 'job:started', '', 'active', $2, array_agg(queue ORDER BY priority, run_at, id),
		array_agg(id ORDER BY priority, run_at, id), array_agg(task ORDER BY priority, run_at, id)
	FROM upd HAVING count(*) > 0
), m AS (
	INSERT INTO asyncmq_metrics (queue, minute, started, wait_sum, durations)
	SELECT queue, $6, count(*), sum(greatest((extract(epoch FROM $2::timestamptz - run_at) * 1e9)::bigint, 0)), ` + zeroDurations + `
	FROM upd GROUP BY queue
), mt AS (
	INSERT INTO asyncmq_task_metrics (queue, task, minute, started, wait_sum, durations)
	SELECT queue, task, $6, count(*), sum(greatest((extract(epoch FROM $2::timestamptz - run_at) * 1e9)::bigint, 0)), ` + zeroDurations + `
	FROM upd GROUP BY queue, task
)
SELECT ` + jobCols + ` FROM upd`
}

var (
	// qClaim takes from the unpaused queues without a rate limit: no queue row is locked.
	qClaim = claimSQL(`SELECT name, $3::int AS n FROM asyncmq_queues WHERE name = ANY($1::text[]) AND NOT paused AND rate_limit = 0`)
	// qClaimLimited takes from queues whose allowance the caller computed under their row lock.
	qClaimLimited = claimSQL(`SELECT * FROM unnest($1::text[], $7::int[]) AS g(name, n)`)
	// qRateLimited finds the named queues that have a rate limit.
	qRateLimited = `SELECT coalesce(array_agg(name), '{}') FROM asyncmq_queues WHERE name = ANY($1::text[]) AND NOT paused AND rate_limit > 0`
	qLockGates   = `SELECT name, rate_limit, rate_interval, rate_window_start, rate_window_count FROM asyncmq_queues
WHERE name = ANY($1::text[]) AND NOT paused AND rate_limit > 0 ORDER BY name FOR UPDATE`
	qRateWindow = `UPDATE asyncmq_queues SET rate_window_start = $2, rate_window_count = $3 WHERE name = $1`
)

var zeroDurations = func() string {
	s := "'{"
	for i := range numDurations {
		if i > 0 {
			s += ","
		}
		s += "0"
	}
	return s + "}'::bigint[]"
}()

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, cols string) string {
	out := ""
	for i, c := range splitCols(cols) {
		if i > 0 {
			out += ", "
		}
		out += alias + "." + c
	}
	return out
}

func splitCols(cols string) []string {
	var out []string
	cur := ""
	for _, r := range cols {
		switch r {
		case ',':
			out = append(out, cur)
			cur = ""
		case ' ', '\n', '\t':
		default:
			cur += string(r)
		}
	}
	return append(out, cur)
}

// Claim takes up to p.Limit runnable jobs in one statement, sent in one round trip with the look
// up of rate-limited queues. Queues with a rate limit are claimed from afterwards, in a
// transaction that locks their row to count the window: a fixed window opens at the first claim
// after the previous one closed, and gives at most the limit.
func (b *Backend) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	queues := []string{p.Queue}
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("claim jobs of queue %q: %w", p.Queue, err)
	}
	now := b.clock(p.Now)
	jobs, err := b.claim(ctx, queues, p, now)
	if err != nil {
		return nil, fmt.Errorf("claim jobs of queue %q: %w", p.Queue, b.fail(err))
	}
	return jobs, nil
}

func (b *Backend) claim(ctx context.Context, queues []string, p backend.ClaimParams, now time.Time) ([]*asyncmqtype.JobInfo, error) {
	expiry, minute := now.Add(p.LeaseDuration), now.Truncate(time.Minute)
	batch := b.transitionBatch()
	var limited []string
	batch.Queue(qRateLimited, queues).QueryRow(func(r pgx.Row) error { return r.Scan(&limited) })
	var jobs []*asyncmqtype.JobInfo
	batch.Queue(qClaim, queues, now, p.Limit, expiry, p.WorkerID, minute).Query(func(rows pgx.Rows) error {
		var err error
		jobs, err = scanJobs(rows)
		return err
	})
	if err := b.sendTransition(ctx, batch); err != nil {
		return nil, err
	}
	if len(limited) > 0 && len(jobs) < p.Limit {
		more, err := b.claimLimited(ctx, limited, p.Limit-len(jobs), p.WorkerID, now, expiry)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, more...)
	}
	slices.SortFunc(jobs, func(a, b *asyncmqtype.JobInfo) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	return jobs, nil
}

// claimLimited claims from rate-limited queues under their row locks.
func (b *Backend) claimLimited(ctx context.Context, queues []string, limit int, worker string, now, expiry time.Time) ([]*asyncmqtype.JobInfo, error) {
	var jobs []*asyncmqtype.JobInfo
	err := b.tx(ctx, now, func(w *wtx) error {
		jobs = nil
		type gate struct {
			name        string
			limit       int
			interval    time.Duration
			windowStart *time.Time
			count       int
		}
		rows, err := w.tx.Query(ctx, qLockGates, queues)
		if err != nil {
			return fmt.Errorf("lock rate limits: %w", err)
		}
		var gates []gate
		for rows.Next() {
			var g gate
			var interval int64
			if err := rows.Scan(&g.name, &g.limit, &interval, &g.windowStart, &g.count); err != nil {
				rows.Close()
				return fmt.Errorf("lock rate limits: %w", err)
			}
			g.interval = time.Duration(interval)
			gates = append(gates, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lock rate limits: %w", err)
		}
		var names []string
		var allow []int32
		for i := range gates {
			g := &gates[i]
			if g.windowStart == nil || !now.Before(g.windowStart.Add(g.interval)) {
				start := now
				g.windowStart, g.count = &start, 0
			}
			if n := min(limit, g.limit-g.count); n > 0 {
				names = append(names, g.name)
				allow = append(allow, int32(n))
			}
		}
		if len(names) == 0 {
			return nil
		}
		rows, err = w.tx.Query(ctx, qClaimLimited, names, now, limit, expiry, worker, now.Truncate(time.Minute), allow)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		if jobs, err = scanJobs(rows); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		claimed := map[string]int{}
		for _, j := range jobs {
			claimed[j.Queue]++
		}
		for _, g := range gates {
			if n := claimed[g.name]; n > 0 {
				if err := w.exec(qRateWindow, g.name, *g.windowStart, g.count+n); err != nil {
					return fmt.Errorf("count rate limit of queue %q: %w", g.name, err)
				}
			}
		}
		return nil
	})
	return jobs, err
}
