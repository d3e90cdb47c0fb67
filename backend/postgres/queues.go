package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// qQueues counts each known queue's jobs per state, except for the queues named in $2, whose
// counts come from the cache (listcache.go) and which read as one row with a NULL state. No
// counter row exists to read (it would be written by every transition); each queue's jobs are
// counted in one pass grouped by state, whatever plan the statistics lead to: a count per
// state (seven correlated subqueries) planned for an unknown queue and state becomes seven
// sequential scans of the whole table once ANALYZE has seen one large queue. Large queues are
// counted at most about every few seconds, in the background (listcache.go).
const qQueues = `SELECT q.name, q.paused, q.rate_limit, q.rate_interval, c.state, c.n
FROM asyncmq_queues q LEFT JOIN LATERAL (
	SELECT j.state, count(*) AS n FROM asyncmq_jobs j
	WHERE j.queue = q.name AND q.name <> ALL($2::text[]) GROUP BY j.state
) c ON true
WHERE $1::text IS NULL OR q.name = $1
ORDER BY q.name`

func (b *Backend) queues(ctx context.Context, name *string) ([]asyncmqtype.QueueInfo, error) {
	// The queues the cache answers for, and those this caller claimed to count again. The
	// cache only knows queues counted before, so its list is short.
	if b.lc.coldStart(name) {
		release, err := b.lc.acquireCold(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	now := time.Now()
	var skip, claimed []string
	cached := map[string]map[asyncmqtype.State]int{}
	for _, q := range b.lc.cachedQueues(name) {
		counts, pl, err := b.lc.countPlan(ctx, q)
		if err != nil {
			b.lc.releaseCounts(claimed)
			return nil, err
		}
		switch pl {
		case readNow:
			claimed = append(claimed, q)
			continue
		case refreshLater:
			b.recountLater(q)
		}
		skip = append(skip, q)
		cached[q] = counts
	}
	out, err := queryQueues(ctx, b.pool, name, skip)
	if err != nil {
		b.lc.releaseCounts(claimed)
		return nil, err
	}
	for i := range out {
		if counts, ok := cached[out[i].Name]; ok {
			out[i].Counts = counts
			continue
		}
		b.lc.storeCounts(out[i].Name, out[i].Counts, now, time.Since(now))
	}
	// A claimed queue that is gone (obliterated meanwhile) must not keep others waiting.
	b.lc.releaseCounts(claimed)
	return out, nil
}

// querier is what queryQueues needs of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func queryQueues(ctx context.Context, db querier, name *string, skip []string) ([]asyncmqtype.QueueInfo, error) {
	if skip == nil {
		skip = []string{}
	}
	rows, err := db.Query(ctx, qQueues, name, skip)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []asyncmqtype.QueueInfo{}
	for rows.Next() {
		var (
			q        asyncmqtype.QueueInfo
			interval int64
			state    *string
			n        *int64
		)
		if err := rows.Scan(&q.Name, &q.Paused, &q.RateLimit, &interval, &state, &n); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != q.Name {
			q.RateInterval = time.Duration(interval)
			q.Counts = make(map[asyncmqtype.State]int, asyncmqtype.NumStates)
			for _, st := range asyncmqtype.States {
				q.Counts[st] = 0
			}
			out = append(out, q)
		}
		if state != nil && n != nil {
			out[len(out)-1].Counts[asyncmqtype.State(*state)] = int(*n)
		}
	}
	return out, rows.Err()
}

// Queues lists the known queues with their counts, sorted by name. Every state is present in
// Counts, zero or not.
func (b *Backend) Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	out, err := b.queues(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", b.fail(err))
	}
	return out, nil
}

// Queue returns one queue; asyncmqtype.ErrQueueNotFound if unknown.
func (b *Backend) Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error) {
	if err := b.open(ctx); err != nil {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, err)
	}
	out, err := b.queues(ctx, &name)
	if err != nil {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, b.fail(err))
	}
	if len(out) == 0 {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	return out[0], nil
}

// SetQueuePaused pauses or resumes a queue; an unknown queue becomes known. Claims in every
// process see the change at their next statement; resuming wakes the queue's workers.
func (b *Backend) SetQueuePaused(ctx context.Context, queue string, paused bool) error {
	what := "resume"
	if paused {
		what = "pause"
	}
	if err := backend.ValidatePause(queue); err != nil {
		return err
	}
	err := b.tx(ctx, b.now(), func(w *wtx) error {
		if err := w.exec(`INSERT INTO asyncmq_queues (name, paused) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET paused = $2`, queue, paused); err != nil {
			return err
		}
		w.event(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, Detail: what + "d"})
		if !paused {
			w.wakeQueue(queue)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s queue %q: %w", what, queue, err)
	}
	return nil
}

// SetRateLimit sets or (Limit 0) removes a queue's rate limit; an unknown queue becomes known.
func (b *Backend) SetRateLimit(ctx context.Context, p backend.RateLimitParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Limit == 0 {
		p.Interval = 0
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("set rate limit of queue %q: %w", p.Queue, err)
	}
	_, err := b.pool.Exec(ctx, `INSERT INTO asyncmq_queues (name, rate_limit, rate_interval) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET rate_limit = $2, rate_interval = $3, rate_window_start = NULL, rate_window_count = 0`,
		p.Queue, p.Limit, int64(p.Interval))
	if err != nil {
		return fmt.Errorf("set rate limit of queue %q: %w", p.Queue, b.fail(err))
	}
	return nil
}

// GetJob returns one job; asyncmqtype.ErrJobNotFound if unknown.
func (b *Backend) GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	j, err := scanJob(b.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM asyncmq_jobs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, b.fail(err))
	}
	return j, nil
}
