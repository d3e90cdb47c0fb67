package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const claimSet = `UPDATE asyncmq_jobs SET state = 'active', lease_token = lower(hex(randomblob(16))),
	lease_expires_at = ?1, attempts = attempts + 1, started_at = ?2, finished_at = NULL,
	worker_id = ?3, cancel_requested = 0
`

var (
	qQueueGate = `SELECT paused, rate_limit, rate_interval, rate_window_start, rate_window_count
FROM asyncmq_queues WHERE name = ?`
	// qClaim picks and claims in one statement, through the claim index.
	qClaim = claimSet + `WHERE seq IN (
	SELECT seq FROM asyncmq_jobs
	WHERE queue = ?4 AND state = 'waiting' AND pending_deps = 0 AND run_at <= ?2
	ORDER BY priority, run_at, id LIMIT ?5)
RETURNING ` + jobCols
	qRateWindow = `UPDATE asyncmq_queues SET rate_window_start = ?, rate_window_count = ? WHERE name = ?`
)

// Claim takes up to p.Limit runnable jobs of p.Queue in one write transaction: one statement
// picks them from the claim index and claims them.
//
// A rate limit is a fixed window: the first claim after a window has passed starts a new one
// at Now, and at most RateLimit jobs are claimed per window.
func (b *Backend) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := b.clock(p.Now)
	if ok, err := b.any(ctx, qRunnable, p.Queue, nanoInt(now)); err != nil || !ok {
		if err != nil {
			return nil, fmt.Errorf("claim jobs of queue %q: %w", p.Queue, err)
		}
		return nil, nil
	}
	var jobs []*asyncmqtype.JobInfo
	err := b.write(ctx, now, func(w *wtx) error {
		var err error
		jobs, err = w.claim(p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs of queue %q: %w", p.Queue, err)
	}
	return jobs, nil
}

// qRunnable tells whether an unpaused queue has a job to claim. An idle worker polls its queues
// all the time; without this check, made through a read connection, every poll would take the
// write lock, in every process. What it reads may be a moment old: a job enqueued meanwhile is
// claimed at the next poll.
const qRunnable = `SELECT 1 FROM asyncmq_queues WHERE name = ?1 AND NOT paused AND EXISTS (
	SELECT 1 FROM asyncmq_jobs WHERE queue = ?1 AND state = 'waiting' AND pending_deps = 0 AND run_at <= ?2)`

type queueGate struct {
	paused                 bool
	limit                  int
	interval               time.Duration
	windowStart, windowCnt int64
}

func (w *wtx) claim(p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	var (
		g        queueGate
		interval int64
	)
	err := w.queryRow(qQueueGate, p.Queue).Scan(&g.paused, &g.limit, &interval, &g.windowStart, &g.windowCnt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read queue settings: %w", err)
	}
	if g.paused {
		return nil, nil
	}
	g.interval = time.Duration(interval)
	now := nanoInt(w.now)
	n := p.Limit
	if g.limit > 0 {
		if now >= g.windowStart+int64(g.interval) {
			g.windowStart, g.windowCnt = now, 0
		}
		n = min(n, g.limit-int(g.windowCnt))
	}
	if n <= 0 {
		return nil, nil
	}

	rows, err := w.query(qClaim, nanoInt(w.now.Add(p.LeaseDuration)), now, p.WorkerID, p.Queue, n)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	// RETURNING gives the rows in no defined order.
	slices.SortFunc(jobs, func(a, b *asyncmqtype.JobInfo) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	for _, j := range jobs {
		w.count(j.Queue, asyncmqtype.StateWaiting, asyncmqtype.StateActive)
		w.event(asyncmqtype.Event{Type: asyncmqtype.EventStarted, Queue: j.Queue, JobID: j.ID, Task: j.Task, State: asyncmqtype.StateActive})
		m := w.metric(j.Queue, j.Task)
		m.started++
		m.waitSum += max(int64(w.now.Sub(j.RunAt)), 0)
	}
	if g.limit > 0 && len(jobs) > 0 {
		if _, err := w.exec(qRateWindow, g.windowStart, g.windowCnt+int64(len(jobs)), p.Queue); err != nil {
			return nil, fmt.Errorf("count rate limit of queue %q: %w", p.Queue, err)
		}
	}
	return jobs, nil
}
