package sqlite

import (
	"cmp"
	"context"
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
	qQueueSettings = `SELECT name, paused, rate_limit, rate_interval, rate_window_start, rate_window_count
FROM asyncmq_queues WHERE name IN (SELECT value FROM json_each(?))`
	// qClaimOne picks and claims in one statement for the usual single-queue claim.
	qClaimOne = claimSet + `WHERE seq IN (
	SELECT seq FROM asyncmq_jobs
	WHERE queue = ?4 AND state = 'waiting' AND pending_deps = 0 AND run_at <= ?2
	ORDER BY priority, run_at, id LIMIT ?5)
RETURNING ` + jobCols
	qClaimPick = `SELECT seq, priority, run_at, id FROM asyncmq_jobs
WHERE queue = ? AND state = 'waiting' AND pending_deps = 0 AND run_at <= ?
ORDER BY priority, run_at, id LIMIT ?`
	qClaimSeqs = claimSet + `WHERE seq IN (SELECT value FROM json_each(?4))
RETURNING ` + jobCols
	qRateWindow = `UPDATE asyncmq_queues SET rate_window_start = ?, rate_window_count = ? WHERE name = ?`
)

// Claim takes up to p.Limit runnable jobs in one write transaction: one statement per queue
// picks candidates from the claim index and one statement claims them all.
//
// A rate limit is a fixed window: the first claim after a window has passed starts a new one
// at Now, and at most RateLimit jobs are claimed per window.
func (b *Backend) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	switch {
	case len(p.Queues) == 0:
		return nil, fmt.Errorf("claim jobs: no queues: %w", asyncmqtype.ErrInvalid)
	case p.Limit < 1:
		return nil, fmt.Errorf("claim jobs: limit %d is below 1: %w", p.Limit, asyncmqtype.ErrInvalid)
	case p.LeaseDuration <= 0:
		return nil, fmt.Errorf("claim jobs: lease duration %s is not positive: %w", p.LeaseDuration, asyncmqtype.ErrInvalid)
	}
	queues := uniq(p.Queues)
	now := b.clock(p.Now)
	if ok, err := b.runnable(ctx, queues, now); err != nil || !ok {
		if err != nil {
			return nil, fmt.Errorf("claim jobs from queues %q: %w", queues, b.fail(err))
		}
		return nil, nil
	}
	var jobs []*asyncmqtype.JobInfo
	err := b.write(ctx, now, func(w *wtx) error {
		var err error
		jobs, err = w.claim(queues, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs from queues %q: %w", queues, err)
	}
	return jobs, nil
}

// qRunnable tells whether an unpaused queue has a job to claim.
const qRunnable = `SELECT 1 FROM asyncmq_queues WHERE name = ?1 AND NOT paused AND EXISTS (
	SELECT 1 FROM asyncmq_jobs WHERE queue = ?1 AND state = 'waiting' AND pending_deps = 0 AND run_at <= ?2)`

// runnable looks through a read connection for a job to claim. An idle worker polls its queues
// all the time; without this check every poll would take the write lock, in every process.
// What it reads may be a moment old: a job enqueued meanwhile is claimed at the next poll.
func (b *Backend) runnable(ctx context.Context, queues []string, now time.Time) (bool, error) {
	for _, q := range queues {
		if ok, err := b.any(ctx, qRunnable, q, nanoInt(now)); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

type queueGate struct {
	paused                 bool
	limit                  int
	interval               time.Duration
	windowStart, windowCnt int64
}

type candidate struct {
	seq      int64
	priority int
	runAt    int64
	id       string
}

func (w *wtx) claim(queues []string, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	arg, err := jsonArg(queues)
	if err != nil {
		return nil, err
	}
	gates, err := w.gates(arg)
	if err != nil {
		return nil, err
	}
	now := nanoInt(w.now)
	allow := make(map[string]int, len(queues))
	var open []string
	for _, q := range queues {
		g, ok := gates[q]
		if !ok || g.paused {
			continue
		}
		n := p.Limit
		if g.limit > 0 {
			if now >= g.windowStart+int64(g.interval) {
				g.windowStart, g.windowCnt = now, 0
				gates[q] = g
			}
			n = min(n, g.limit-int(g.windowCnt))
		}
		if n > 0 {
			allow[q] = n
			open = append(open, q)
		}
	}
	if len(open) == 0 {
		return nil, nil
	}

	lease := nanoInt(w.now.Add(p.LeaseDuration))
	var jobs []*asyncmqtype.JobInfo
	if len(open) == 1 {
		rows, err := w.query(qClaimOne, lease, now, p.WorkerID, open[0], allow[open[0]])
		if err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		if jobs, err = scanJobs(rows); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	} else {
		var cands []candidate
		for _, q := range open {
			rows, err := w.query(qClaimPick, q, now, allow[q])
			if err != nil {
				return nil, fmt.Errorf("pick jobs of queue %q: %w", q, err)
			}
			for rows.Next() {
				var c candidate
				if err := rows.Scan(&c.seq, &c.priority, &c.runAt, &c.id); err != nil {
					rows.Close()
					return nil, fmt.Errorf("pick jobs of queue %q: %w", q, err)
				}
				cands = append(cands, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("pick jobs of queue %q: %w", q, err)
			}
		}
		if len(cands) == 0 {
			return nil, nil
		}
		slices.SortFunc(cands, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.runAt, b.runAt), cmp.Compare(a.id, b.id))
		})
		seqs := make([]int64, 0, min(len(cands), p.Limit))
		for _, c := range cands[:min(len(cands), p.Limit)] {
			seqs = append(seqs, c.seq)
		}
		arg, err := jsonArg(seqs)
		if err != nil {
			return nil, err
		}
		rows, err := w.query(qClaimSeqs, lease, now, p.WorkerID, arg)
		if err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		if jobs, err = scanJobs(rows); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	slices.SortFunc(jobs, func(a, b *asyncmqtype.JobInfo) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})

	claimed := make(map[string]int, len(open))
	for _, j := range jobs {
		claimed[j.Queue]++
		w.count(j.Queue, asyncmqtype.StateWaiting, asyncmqtype.StateActive)
		w.event(asyncmqtype.Event{Type: asyncmqtype.EventStarted, Queue: j.Queue, JobID: j.ID, Task: j.Task, State: asyncmqtype.StateActive})
		m := w.metric(j.Queue)
		m.started++
		m.waitSum += max(int64(w.now.Sub(j.RunAt)), 0)
	}
	for q, n := range claimed {
		g := gates[q]
		if g.limit == 0 {
			continue
		}
		if _, err := w.exec(qRateWindow, g.windowStart, g.windowCnt+int64(n), q); err != nil {
			return nil, fmt.Errorf("count rate limit of queue %q: %w", q, err)
		}
	}
	return jobs, nil
}

func (w *wtx) gates(queuesArg string) (map[string]queueGate, error) {
	rows, err := w.query(qQueueSettings, queuesArg)
	if err != nil {
		return nil, fmt.Errorf("read queue settings: %w", err)
	}
	defer rows.Close()
	gates := make(map[string]queueGate)
	for rows.Next() {
		var (
			name     string
			g        queueGate
			interval int64
		)
		if err := rows.Scan(&name, &g.paused, &g.limit, &interval, &g.windowStart, &g.windowCnt); err != nil {
			return nil, fmt.Errorf("read queue settings: %w", err)
		}
		g.interval = time.Duration(interval)
		gates[name] = g
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queue settings: %w", err)
	}
	return gates, nil
}
