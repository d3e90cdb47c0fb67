package memory

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// Claim takes up to p.Limit runnable jobs for one worker; see backend.Backend.
func (b *Backend) Claim(ctx context.Context, p backend.ClaimParams) ([]*backend.Job, error) {
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

	var out []*backend.Job
	for len(out) < p.Limit {
		var best *backend.Job
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
		b.update(best, func(j *backend.Job) {
			j.State = backend.StateActive
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
		b.emitJob(backend.EventStarted, best, now, "")
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
		return fmt.Errorf("finish job %q: %w", it.JobID, backend.ErrLeaseLost)
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
	var attemptErr *backend.AttemptError
	if it.Error != nil {
		e := *it.Error
		e.Attempt = j.Attempts
		e.At = timeOr(e.At, now)
		attemptErr, detail = &e, e.Error
	}
	var event backend.EventType
	b.update(j, func(j *backend.Job) {
		clearLease(j)
		if attemptErr != nil {
			j.Errors = append(j.Errors, *attemptErr)
		}
		switch it.Outcome {
		case backend.OutcomeCompleted:
			j.State, j.FinishedAt, event = backend.StateCompleted, now, backend.EventCompleted
			j.Result = cloneBytes(it.Result)
			m := b.bucket(j.Queue, now)
			m.Completed++
			m.DurationSum += it.Duration
			m.DurationCounts[backend.DurationBucket(it.Duration)]++
		case backend.OutcomeRetry:
			j.State, j.RunAt, event = backend.StateWaiting, now, backend.EventRetrying
			if it.RetryAt.After(now) {
				j.State, j.RunAt = backend.StateDelayed, it.RetryAt.UTC()
			}
			b.bucket(j.Queue, now).Retried++
		case backend.OutcomeFailed:
			j.State, j.FinishedAt, event = backend.StateFailed, now, backend.EventFailed
			m := b.bucket(j.Queue, now)
			m.Failed++
			m.DurationSum += it.Duration
			m.DurationCounts[backend.DurationBucket(it.Duration)]++
		case backend.OutcomeCancelled:
			j.State, j.FinishedAt, event = backend.StateCancelled, now, backend.EventCancelled
		}
	})
	b.emitJob(event, j, now, detail)
	if j.State == backend.StateCompleted {
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
		b.update(j, func(j *backend.Job) { j.LeaseExpiresAt = now.Add(p.LeaseDuration) })
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
			b.update(j, func(j *backend.Job) {
				clearLease(j)
				j.State, j.FinishedAt = backend.StateCancelled, now
			})
			b.emitJob(backend.EventCancelled, j, now, "")
			continue
		}
		b.update(j, func(j *backend.Job) {
			clearLease(j)
			j.State = backend.StateWaiting
			j.Attempts = max(0, j.Attempts-1)
		})
		b.emitJob(backend.EventEnqueued, j, now, "released")
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
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, backend.ErrLeaseLost)
	}
	// Progress orders no index, so the job changes in place.
	j.Progress = cloneBytes(p.Progress)
	b.emitJob(backend.EventProgress, j, b.clock(), string(p.Progress))
	return nil
}

// PromoteDue makes delayed jobs whose RunAt <= now waiting; see backend.Backend.
func (b *Backend) PromoteDue(ctx context.Context, now time.Time) (int, error) {
	if err := b.lock(ctx, "promote due jobs"); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	now = b.timeOr(now)
	var due []*backend.Job
	b.delayed.ascend(0, func(j *backend.Job) bool {
		if j.RunAt.After(now) {
			return false
		}
		due = append(due, j)
		return true
	})
	for _, j := range due {
		b.update(j, func(j *backend.Job) { j.State = backend.StateWaiting })
		b.emitJob(backend.EventEnqueued, j, now, "promoted")
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
	var expired []*backend.Job
	b.leases.ascend(0, func(j *backend.Job) bool {
		if !j.LeaseExpiresAt.Before(now) || (p.Limit > 0 && len(expired) == p.Limit) {
			return false
		}
		expired = append(expired, j)
		return true
	})
	for _, j := range expired {
		cancel := j.CancelRequested
		var detail string
		b.update(j, func(j *backend.Job) {
			clearLease(j)
			j.Stalls++
			switch {
			case cancel:
				j.State, j.FinishedAt = backend.StateCancelled, now
			case j.Stalls > p.MaxStalls:
				detail = fmt.Sprintf("job stalled: its lease expired %d times", j.Stalls)
				j.State, j.FinishedAt = backend.StateFailed, now
				j.Errors = append(j.Errors, backend.AttemptError{Attempt: j.Attempts, At: now, Error: detail})
			default:
				j.State = backend.StateWaiting
			}
		})
		switch j.State {
		case backend.StateCancelled:
			b.emitJob(backend.EventCancelled, j, now, "")
		case backend.StateFailed:
			res.Failed = append(res.Failed, j.ID)
			b.bucket(j.Queue, now).Failed++
			b.emitJob(backend.EventFailed, j, now, detail)
		default:
			res.Requeued = append(res.Requeued, j.ID)
			b.emitJob(backend.EventStalled, j, now, "")
		}
	}
	return res, nil
}
