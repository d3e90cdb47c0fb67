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

// Claim takes up to p.Limit runnable jobs for one worker; see backend.Backend.
func (b *Backend) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	switch {
	case len(p.Queues) == 0:
		return nil, invalid("claim jobs: no queues")
	case p.Limit < 1:
		return nil, invalid("claim jobs: limit %d is below 1", p.Limit)
	case p.LeaseDuration <= 0:
		return nil, invalid("claim jobs: lease duration %s is not positive", p.LeaseDuration)
	}
	if err := b.lock(ctx, "claim jobs"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)

	type source struct {
		q     *queue
		allow int
	}
	var sources []*source
	for _, name := range p.Queues {
		q := b.queues[name]
		if q == nil || q.paused || slices.ContainsFunc(sources, func(s *source) bool { return s.q == q }) {
			continue
		}
		if allow := q.allowance(now); allow > 0 {
			sources = append(sources, &source{q, allow})
		}
	}

	var out []*asyncmqtype.JobInfo
	for len(out) < p.Limit {
		var best *asyncmqtype.JobInfo
		var from *source
		for _, s := range sources {
			if s.allow == 0 {
				continue
			}
			if j := s.q.next(now); j != nil && (best == nil || byClaimOrder(j, best)) {
				best, from = j, s
			}
		}
		if best == nil {
			break
		}
		from.allow--
		from.q.take(now)
		b.update(best, func(j *asyncmqtype.JobInfo) {
			j.State = asyncmqtype.StateActive
			j.Attempts++
			j.StartedAt = now
			j.WorkerID = p.WorkerID
			j.LeaseToken = rand.Text()
			j.LeaseExpiresAt = now.Add(p.LeaseDuration)
			j.CancelRequested = false
		})
		m := b.bucket(best.Queue, now)
		m.Started++
		m.WaitSum += max(0, now.Sub(best.RunAt))
		b.emitJob(asyncmqtype.EventStarted, best, now, "")
		out = append(out, cloneJob(best))
	}
	return out, nil
}

// Finish records the outcomes of claimed jobs; see backend.Backend.
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
	switch it.Outcome {
	case backend.OutcomeCompleted, backend.OutcomeRetry, backend.OutcomeFailed, backend.OutcomeCancelled:
	default:
		return invalid("finish job %q: unknown outcome %q", it.JobID, it.Outcome)
	}
	if !validJSON(it.Result) {
		return invalid("finish job %q: result is not JSON", it.JobID)
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
		case backend.OutcomeCompleted:
			j.State, j.FinishedAt, event = asyncmqtype.StateCompleted, now, asyncmqtype.EventCompleted
			j.Result = cloneBytes(it.Result)
			m := b.bucket(j.Queue, now)
			m.Completed++
			m.DurationSum += it.Duration
			m.DurationCounts[asyncmqtype.DurationBucket(it.Duration)]++
		case backend.OutcomeRetry:
			j.State, j.RunAt, event = asyncmqtype.StateWaiting, now, asyncmqtype.EventRetrying
			if it.RetryAt.After(now) {
				j.State, j.RunAt = asyncmqtype.StateDelayed, it.RetryAt.UTC()
			}
			b.bucket(j.Queue, now).Retried++
		case backend.OutcomeFailed:
			j.State, j.FinishedAt, event = asyncmqtype.StateFailed, now, asyncmqtype.EventFailed
			m := b.bucket(j.Queue, now)
			m.Failed++
			m.DurationSum += it.Duration
			m.DurationCounts[asyncmqtype.DurationBucket(it.Duration)]++
		case backend.OutcomeCancelled:
			j.State, j.FinishedAt, event = asyncmqtype.StateCancelled, now, asyncmqtype.EventCancelled
		}
	})
	b.emitJob(event, j, now, detail)
	if j.State == asyncmqtype.StateCompleted {
		b.unblockChildren(j.ID)
	}
	return nil
}

// Heartbeat extends a worker's leases and refreshes its record; see backend.Backend.
func (b *Backend) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	var res backend.HeartbeatResult
	if p.Worker.ID == "" {
		return res, invalid("heartbeat: empty worker ID")
	}
	if len(p.Leases) > 0 && p.LeaseDuration <= 0 {
		return res, invalid("heartbeat of worker %q: lease duration %s is not positive", p.Worker.ID, p.LeaseDuration)
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

// Release returns held jobs to waiting without counting the attempt; see backend.Backend.
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

// SetProgress stores a progress report of a held job; see backend.Backend.
func (b *Backend) SetProgress(ctx context.Context, p backend.ProgressParams) error {
	if !validJSON(p.Progress) {
		return invalid("set progress of job %q: progress is not JSON", p.Lease.JobID)
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

// PromoteDue makes delayed jobs whose RunAt <= now waiting; see backend.Backend.
func (b *Backend) PromoteDue(ctx context.Context, now time.Time) (int, error) {
	if err := b.lock(ctx, "promote due jobs"); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	now = b.timeOr(now)
	var due []*asyncmqtype.JobInfo
	b.delayed.ascend(0, func(j *asyncmqtype.JobInfo) bool {
		if j.RunAt.After(now) {
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

// RecoverStalled re-queues or fails active jobs whose lease expired; see backend.Backend.
func (b *Backend) RecoverStalled(ctx context.Context, p backend.RecoverParams) (backend.RecoverResult, error) {
	var res backend.RecoverResult
	if p.MaxStalls < 0 || p.Limit < 0 {
		return res, invalid("recover stalled jobs: negative max stalls %d or limit %d", p.MaxStalls, p.Limit)
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
		case asyncmqtype.StateFailed:
			res.Failed = append(res.Failed, j.ID)
			b.bucket(j.Queue, now).Failed++
			b.emitJob(asyncmqtype.EventFailed, j, now, detail)
		default:
			res.Requeued = append(res.Requeued, j.ID)
			b.emitJob(asyncmqtype.EventStalled, j, now, "")
		}
	}
	return res, nil
}
