package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func (q *queue) info() asyncmqtype.QueueInfo {
	counts := make(map[asyncmqtype.State]int, numStates)
	for i, s := range indexStates {
		counts[s] = q.jobs[i].len()
	}
	return asyncmqtype.QueueInfo{
		Name:         q.name,
		Paused:       q.paused,
		Counts:       counts,
		RateLimit:    q.rateLimit,
		RateInterval: q.rateInterval,
	}
}

// Queues lists every known queue with its counts, sorted by name.
func (b *Backend) Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error) {
	if err := b.lock(ctx, "list queues"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	out := make([]asyncmqtype.QueueInfo, 0, len(b.queues))
	for _, q := range b.queues {
		out = append(out, q.info())
	}
	slices.SortFunc(out, func(x, y asyncmqtype.QueueInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// Queue returns one queue; asyncmqtype.ErrQueueNotFound if unknown.
func (b *Backend) Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error) {
	if err := b.lock(ctx, "get queue "+name); err != nil {
		return asyncmqtype.QueueInfo{}, err
	}
	defer b.mu.Unlock()
	q := b.queues[name]
	if q == nil {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("get queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	return q.info(), nil
}

// SetQueuePaused pauses or resumes a queue, making it known if it was not.
func (b *Backend) SetQueuePaused(ctx context.Context, name string, paused bool) error {
	if err := backend.ValidatePause(name); err != nil {
		return err
	}
	if err := b.lock(ctx, "pause queue "+name); err != nil {
		return err
	}
	defer b.mu.Unlock()
	b.queue(name).paused = paused
	detail := "resumed"
	if paused {
		detail = "paused"
	}
	b.emitQueue(name, detail)
	return nil
}

// SetRateLimit sets a queue's rate limit, making it known if it was not. A new limit starts a
// new window.
func (b *Backend) SetRateLimit(ctx context.Context, p backend.RateLimitParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.lock(ctx, "set rate limit of queue "+p.Queue); err != nil {
		return err
	}
	defer b.mu.Unlock()
	q := b.queue(p.Queue)
	q.rateLimit, q.rateInterval = p.Limit, p.Interval
	if p.Limit == 0 {
		q.rateInterval = 0
	}
	q.windowStart, q.windowCount = time.Time{}, 0
	return nil
}

// Drain deletes a queue's waiting and waiting-children jobs, and its delayed ones when
// includeDelayed.
func (b *Backend) Drain(ctx context.Context, name string, includeDelayed bool) (int, error) {
	if err := b.lock(ctx, "drain queue "+name); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	q := b.queues[name]
	if q == nil {
		return 0, fmt.Errorf("drain queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	states := []asyncmqtype.State{asyncmqtype.StateWaiting, asyncmqtype.StateWaitingChildren}
	if includeDelayed {
		states = append(states, asyncmqtype.StateDelayed)
	}
	var gone []*asyncmqtype.JobInfo
	for _, s := range states {
		q.jobs[stateIndex(s)].ascend(0, func(j *asyncmqtype.JobInfo) bool {
			gone = append(gone, j)
			return true
		})
	}
	for _, j := range gone {
		b.deleteJob(j)
	}
	if len(gone) > 0 {
		b.emitQueue(name, "drained")
	}
	return len(gone), nil
}

// Clean deletes old terminal jobs of a queue; see backend.Store.
func (b *Backend) Clean(ctx context.Context, p backend.CleanParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := b.lock(ctx, "clean queue "+p.Queue); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	q := b.queues[p.Queue]
	if q == nil {
		return 0, fmt.Errorf("clean queue %q: %w", p.Queue, asyncmqtype.ErrQueueNotFound)
	}
	finished := q.finished[stateIndex(p.State)]
	// The newest Keep jobs are the last ones in FinishedAt order, so only the ones before them
	// are candidates.
	candidates := max(0, finished.len()-p.Keep)
	var gone []*asyncmqtype.JobInfo
	finished.ascend(0, func(j *asyncmqtype.JobInfo) bool {
		if len(gone) == candidates || (p.Limit > 0 && len(gone) == p.Limit) ||
			(!p.OlderThan.IsZero() && !j.FinishedAt.Before(p.OlderThan)) {
			return false
		}
		gone = append(gone, j)
		return true
	})
	for _, j := range gone {
		b.deleteJob(j)
	}
	if len(gone) > 0 {
		b.emitQueue(p.Queue, "cleaned")
	}
	return len(gone), nil
}

// Obliterate deletes a queue with its jobs, settings and repeatables; see backend.Store.
func (b *Backend) Obliterate(ctx context.Context, name string, force bool) error {
	if err := b.lock(ctx, "obliterate queue "+name); err != nil {
		return err
	}
	defer b.mu.Unlock()
	q := b.queues[name]
	if q == nil {
		return fmt.Errorf("obliterate queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	if n := q.jobs[stateIndex(asyncmqtype.StateActive)].len(); n > 0 && !force {
		return fmt.Errorf("obliterate queue %q: %d active jobs: %w", name, n, asyncmqtype.ErrQueueActive)
	}
	var gone []*asyncmqtype.JobInfo
	for _, t := range q.jobs {
		t.ascend(0, func(j *asyncmqtype.JobInfo) bool {
			gone = append(gone, j)
			return true
		})
	}
	for _, j := range gone {
		b.deleteJob(j)
	}
	for id, r := range b.repeatables {
		if r.Queue == name {
			delete(b.repeatables, id)
		}
	}
	delete(b.queues, name)
	b.emitQueue(name, "obliterated")
	return nil
}
