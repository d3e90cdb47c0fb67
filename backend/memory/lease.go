package memory

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Claim takes up to p.Limit runnable jobs for one worker; see backend.Store.
func (b *Backend) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := b.lock(ctx, "claim jobs"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)

	q := b.queues[p.Queue]
	if q == nil || q.paused {
		return nil, nil
	}
	allow := q.allowance(now)
	var out []*asyncmqtype.JobInfo
	for len(out) < p.Limit && allow > 0 {
		best := q.next(now)
		if best == nil {
			break
		}
		allow--
		q.take(now)
		b.update(best, func(j *asyncmqtype.JobInfo) {
			j.State = asyncmqtype.StateActive
			j.Attempts++
			j.StartedAt = now
			j.WorkerID = p.WorkerID
			j.LeaseToken = rand.Text()
			j.LeaseExpiresAt = now.Add(p.LeaseDuration)
			j.CancelRequested = false
		})
		b.count(best.Queue, best.Task, now, func(m *asyncmqtype.MetricBucket) {
			m.Started++
			m.WaitSum += max(0, now.Sub(best.RunAt))
		})
		b.emitJob(asyncmqtype.EventStarted, best, now, "")
		out = append(out, cloneJob(best))
	}
	return out, nil
}

// Finish records the outcomes of claimed jobs; see backend.Store.
func (b *Backend) Finish(ctx context.Context, p backend.FinishParams) ([]error, error) {
	if err := b.lock(ctx, "finish jobs"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	errs := make([]error, len(p.Items))
	for i, it := range p.Items {
		errs[i] = b.finish(it, now)
	}
	return errs, nil
}

func (b *Backend) finish(it backend.Finish, now time.Time) error {
	j := b.held(it.JobID, it.LeaseToken)
	if j == nil {
		return fmt.Errorf("finish job %q: %w", it.JobID, asyncmqtype.ErrLeaseLost)
	}
	if err := it.Validate(); err != nil {
		return err
	}
	var detail string
	var attemptErr *asyncmqtype.AttemptError
	if it.Error != nil {
		e := *it.Error
		e.Attempt = j.Attempts
		e.At = timeOr(e.At, now)
		attemptErr, detail = &e, e.Error
	}
	var event asyncmqtype.EventType
	b.update(j, func(j *asyncmqtype.JobInfo) {
		clearLease(j)
		if attemptErr != nil {
			j.Errors = append(j.Errors, *attemptErr)
		}
		switch it.Outcome {
		case asyncmqtype.OutcomeCompleted:
			j.State, j.FinishedAt, event = asyncmqtype.StateCompleted, now, asyncmqtype.EventCompleted
			j.Result = cloneBytes(it.Result)
			b.count(j.Queue, j.Task, now, func(m *asyncmqtype.MetricBucket) {
				m.Completed++
				m.DurationSum += it.Duration
				m.DurationCounts[asyncmqtype.DurationBucket(it.Duration)]++
			})
		case asyncmqtype.OutcomeRetry:
			j.State, j.RunAt, event = asyncmqtype.StateWaiting, now, asyncmqtype.EventRetrying
			if it.RetryDelay > 0 {
				j.State, j.RunAt = asyncmqtype.StateDelayed, now.Add(it.RetryDelay)
			}
			b.count(j.Queue, j.Task, now, func(m *asyncmqtype.MetricBucket) { m.Retried++ })
		case asyncmqtype.OutcomeFailed:
			j.State, j.FinishedAt, event = asyncmqtype.StateFailed, now, asyncmqtype.EventFailed
			b.count(j.Queue, j.Task, now, func(m *asyncmqtype.MetricBucket) {
				m.Failed++
				m.DurationSum += it.Duration
				m.DurationCounts[asyncmqtype.DurationBucket(it.Duration)]++
			})
		case asyncmqtype.OutcomeCancelled:
			j.State, j.FinishedAt, event = asyncmqtype.StateCancelled, now, asyncmqtype.EventCancelled
		}
	})
	b.emitJob(event, j, now, detail)
	switch j.State {
	case asyncmqtype.StateCompleted:
		b.unblockChildren(j.ID, now)
	case asyncmqtype.StateFailed, asyncmqtype.StateCancelled:
		b.parentEnded(j, now)
	}
	return nil
}

// Heartbeat extends a worker's leases and refreshes its record; see backend.Store.
func (b *Backend) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	var res backend.HeartbeatResult
	if err := p.Validate(); err != nil {
		return res, err
	}
	if err := b.lock(ctx, "heartbeat of worker "+p.Worker.ID); err != nil {
		return res, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	for _, l := range p.Leases {
		j := b.held(l.JobID, l.LeaseToken)
		if j == nil {
			res.Lost = append(res.Lost, l.JobID)
			continue
		}
		b.update(j, func(j *asyncmqtype.JobInfo) { j.LeaseExpiresAt = now.Add(p.LeaseDuration) })
		if j.CancelRequested {
			res.Cancelled = append(res.Cancelled, l.JobID)
		}
	}
	w := p.Worker
	w.Queues = slices.Clone(w.Queues)
	w.LastHeartbeat = now
	w.StartedAt = w.StartedAt.UTC()
	if w.StartedAt.IsZero() {
		w.StartedAt = now
		if old := b.workers[w.ID]; old != nil {
			w.StartedAt = old.StartedAt
		}
	}
	b.workers[w.ID] = &w
	return res, nil
}

// Release returns held jobs to waiting without counting the attempt; see backend.Store.
func (b *Backend) Release(ctx context.Context, p backend.ReleaseParams) error {
	if err := b.lock(ctx, "release jobs"); err != nil {
		return err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	for _, l := range p.Leases {
		j := b.held(l.JobID, l.LeaseToken)
		if j == nil {
			continue
		}
		if j.CancelRequested {
			b.update(j, func(j *asyncmqtype.JobInfo) {
				clearLease(j)
				j.State, j.FinishedAt = asyncmqtype.StateCancelled, now
			})
			b.emitJob(asyncmqtype.EventCancelled, j, now, "")
			b.parentEnded(j, now)
			continue
		}
		b.update(j, func(j *asyncmqtype.JobInfo) {
			clearLease(j)
			j.State = asyncmqtype.StateWaiting
			j.Attempts = max(0, j.Attempts-1)
		})
		b.emitJob(asyncmqtype.EventEnqueued, j, now, "released")
	}
	return nil
}

// SetProgress stores a progress report of a held job; see backend.Store.
func (b *Backend) SetProgress(ctx context.Context, p backend.ProgressParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.lock(ctx, "set progress of job "+p.Lease.JobID); err != nil {
		return err
	}
	defer b.mu.Unlock()
	j := b.held(p.Lease.JobID, p.Lease.LeaseToken)
	if j == nil {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, asyncmqtype.ErrLeaseLost)
	}
	// Progress orders no index, so the job changes in place.
	j.Progress = cloneBytes(p.Progress)
	b.emitJob(asyncmqtype.EventProgress, j, b.clock(), string(p.Progress))
	return nil
}

// PromoteDue makes delayed jobs whose RunAt <= now waiting; see backend.Store.
func (b *Backend) PromoteDue(ctx context.Context, p backend.PromoteParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := b.lock(ctx, "promote due jobs"); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	var due []*asyncmqtype.JobInfo
	b.delayed.ascend(0, func(j *asyncmqtype.JobInfo) bool {
		if j.RunAt.After(now) || (p.Limit > 0 && len(due) == p.Limit) {
			return false
		}
		due = append(due, j)
		return true
	})
	for _, j := range due {
		b.update(j, func(j *asyncmqtype.JobInfo) { j.State = asyncmqtype.StateWaiting })
		b.emitJob(asyncmqtype.EventEnqueued, j, now, "promoted")
	}
	return len(due), nil
}

// RecoverStalled re-queues or fails active jobs whose lease expired; see backend.Store.
func (b *Backend) RecoverStalled(ctx context.Context, p backend.RecoverParams) (backend.RecoverResult, error) {
	var res backend.RecoverResult
	if err := p.Validate(); err != nil {
		return res, err
	}
	if err := b.lock(ctx, "recover stalled jobs"); err != nil {
		return res, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	var expired []*asyncmqtype.JobInfo
	b.leases.ascend(0, func(j *asyncmqtype.JobInfo) bool {
		if !j.LeaseExpiresAt.Before(now) || (p.Limit > 0 && len(expired) == p.Limit) {
			return false
		}
		expired = append(expired, j)
		return true
	})
	for _, j := range expired {
		cancel := j.CancelRequested
		var detail string
		b.update(j, func(j *asyncmqtype.JobInfo) {
			clearLease(j)
			j.Stalls++
			switch {
			case cancel:
				j.State, j.FinishedAt = asyncmqtype.StateCancelled, now
			case j.Stalls > p.MaxStalls:
				detail = fmt.Sprintf("job stalled: its lease expired %d times", j.Stalls)
				j.State, j.FinishedAt = asyncmqtype.StateFailed, now
				j.Errors = append(j.Errors, asyncmqtype.AttemptError{Attempt: j.Attempts, At: now, Error: detail})
			default:
				j.State = asyncmqtype.StateWaiting
			}
		})
		switch j.State {
		case asyncmqtype.StateCancelled:
			b.emitJob(asyncmqtype.EventCancelled, j, now, "")
			b.parentEnded(j, now)
		case asyncmqtype.StateFailed:
			res.Failed = append(res.Failed, j.ID)
			b.count(j.Queue, j.Task, now, func(m *asyncmqtype.MetricBucket) { m.Failed++ })
			b.emitJob(asyncmqtype.EventFailed, j, now, detail)
			b.parentEnded(j, now)
		default:
			res.Requeued = append(res.Requeued, j.ID)
			b.emitJob(asyncmqtype.EventStalled, j, now, "")
		}
	}
	return res, nil
}
