package asyncmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Inspector is the public administration API over a backend: the dashboard and the CLI are built
// on it and never reach into a backend directly. It is safe for concurrent use.
type Inspector struct {
	b   Store
	now func() time.Time
}

// NewInspector returns an Inspector over b.
func NewInspector(b Store) *Inspector {
	return &Inspector{b: b, now: func() time.Time { return time.Now().UTC() }}
}

// MaxPageSize is the largest page Jobs returns.
const MaxPageSize = 1000

// Ping checks that the backend answers.
func (i *Inspector) Ping(ctx context.Context) error {
	if err := i.b.Ping(ctx); err != nil {
		return fmt.Errorf("ping backend: %w", err)
	}
	return nil
}

// Queues lists every queue with its per-state counts.
func (i *Inspector) Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error) {
	qs, err := i.b.Queues(ctx)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return qs, nil
}

// Queue returns one queue.
func (i *Inspector) Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error) {
	q, err := i.b.Queue(ctx, name)
	if errors.Is(err, asyncmqtype.ErrQueueNotFound) {
		// Stores already name the queue; say it once.
		return q, fmt.Errorf("get queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	if err != nil {
		return q, fmt.Errorf("get queue %q: %w", name, err)
	}
	return q, nil
}

// PauseQueue stops every worker of the backend from claiming the queue's jobs (within a second).
func (i *Inspector) PauseQueue(ctx context.Context, name string) error {
	if err := i.b.SetQueuePaused(ctx, name, true); err != nil {
		return fmt.Errorf("pause queue %q: %w", name, err)
	}
	return nil
}

// ResumeQueue undoes PauseQueue.
func (i *Inspector) ResumeQueue(ctx context.Context, name string) error {
	if err := i.b.SetQueuePaused(ctx, name, false); err != nil {
		return fmt.Errorf("resume queue %q: %w", name, err)
	}
	return nil
}

// SetRateLimit limits the queue to limit jobs per interval across all workers; 0 removes it.
func (i *Inspector) SetRateLimit(ctx context.Context, queue string, limit int, interval time.Duration) error {
	if limit < 0 || (limit > 0 && interval <= 0) {
		return fmt.Errorf("set rate limit of queue %q: limit %d per %s: %w", queue, limit, interval, asyncmqtype.ErrInvalid)
	}
	if err := i.b.SetRateLimit(ctx, backend.RateLimitParams{Queue: queue, Limit: limit, Interval: interval}); err != nil {
		return fmt.Errorf("set rate limit of queue %q: %w", queue, err)
	}
	return nil
}

// Jobs returns one page of jobs. A Limit outside 1..MaxPageSize is clamped; an empty Sort is newest.
func (i *Inspector) Jobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	if p.Filter.State == "" {
		p.Filter.State = asyncmqtype.StateWaiting
	}
	if !p.Filter.State.Valid() {
		return asyncmqtype.JobPage{}, fmt.Errorf("list jobs: unknown state %q: %w", p.Filter.State, asyncmqtype.ErrInvalid)
	}
	if p.Limit <= 0 {
		p.Limit = 20
	}
	p.Limit = min(p.Limit, MaxPageSize)
	p.Offset = max(p.Offset, 0)
	if p.Sort == "" {
		p.Sort = asyncmqtype.SortNewest
	}
	if p.Sort != asyncmqtype.SortNewest && p.Sort != asyncmqtype.SortOldest {
		return asyncmqtype.JobPage{}, fmt.Errorf("list jobs: unknown sort %q: %w", p.Sort, asyncmqtype.ErrInvalid)
	}
	page, err := i.b.ListJobs(ctx, p)
	if err != nil {
		return page, fmt.Errorf("list %s jobs of queue %q: %w", p.Filter.State, p.Filter.Queue, err)
	}
	return page, nil
}

// Job returns one job.
func (i *Inspector) Job(ctx context.Context, id string) (*asyncmqtype.JobInfo, error) {
	j, err := i.b.GetJob(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	return j, nil
}

// Parents returns the parents job id still waits for (those named in its DependsOn that have not
// completed), with their states, in DependsOn order. It is empty for a job with no pending parent.
// A parent that no longer exists is listed with an empty State.
func (i *Inspector) Parents(ctx context.Context, id string) ([]asyncmqtype.ParentInfo, error) {
	j, err := i.b.GetJob(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get parents of job %q: %w", id, err)
	}
	if j.PendingDeps == 0 {
		return nil, nil
	}
	var out []asyncmqtype.ParentInfo
	for _, pid := range uniqueIDs(j.DependsOn) {
		p, err := i.b.GetJob(ctx, pid)
		switch {
		case errors.Is(err, asyncmqtype.ErrJobNotFound):
			out = append(out, asyncmqtype.ParentInfo{ID: pid})
		case err != nil:
			return nil, fmt.Errorf("get parent %q of job %q: %w", pid, id, err)
		case p.State != asyncmqtype.StateCompleted:
			out = append(out, asyncmqtype.ParentInfo{ID: pid, State: p.State})
		}
	}
	return out, nil
}

// Apply performs a bulk action on named jobs, or on every job matching the filter when IDs is
// empty, and returns how many jobs changed.
func (i *Inspector) Apply(ctx context.Context, p asyncmqtype.ApplyParams) (int, error) {
	switch p.Action {
	case asyncmqtype.ActionRetry, asyncmqtype.ActionRemove, asyncmqtype.ActionCancel, asyncmqtype.ActionPromote:
	default:
		return 0, fmt.Errorf("apply job action: unknown action %q: %w", p.Action, asyncmqtype.ErrInvalid)
	}
	if p.Filter.State != "" && !p.Filter.State.Valid() {
		return 0, fmt.Errorf("apply job action: unknown state %q: %w", p.Filter.State, asyncmqtype.ErrInvalid)
	}
	if p.Now.IsZero() {
		p.Now = i.now()
	}
	n, err := i.b.ApplyJobs(ctx, p)
	if err != nil {
		return n, fmt.Errorf("%s jobs: %w", p.Action, err)
	}
	return n, nil
}

func (i *Inspector) one(ctx context.Context, a asyncmqtype.Action, id string) error {
	n, err := i.Apply(ctx, asyncmqtype.ApplyParams{Action: a, IDs: []string{id}})
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := i.b.GetJob(ctx, id); err != nil {
			return fmt.Errorf("%s job %q: %w", a, id, err)
		}
		return fmt.Errorf("%s job %q: not applicable in its state: %w", a, id, asyncmqtype.ErrInvalid)
	}
	return nil
}

// RetryJob moves a failed, cancelled or completed job back to waiting.
func (i *Inspector) RetryJob(ctx context.Context, id string) error {
	return i.one(ctx, asyncmqtype.ActionRetry, id)
}

// RemoveJob deletes a job (an active job is cancelled instead).
func (i *Inspector) RemoveJob(ctx context.Context, id string) error {
	return i.one(ctx, asyncmqtype.ActionRemove, id)
}

// CancelJob cancels a waiting or delayed job, or asks the worker running an active one to stop.
func (i *Inspector) CancelJob(ctx context.Context, id string) error {
	return i.one(ctx, asyncmqtype.ActionCancel, id)
}

// PromoteJob makes a delayed job run now.
func (i *Inspector) PromoteJob(ctx context.Context, id string) error {
	return i.one(ctx, asyncmqtype.ActionPromote, id)
}

// Drain deletes a queue's waiting jobs, and its delayed ones when includeDelayed.
func (i *Inspector) Drain(ctx context.Context, queue string, includeDelayed bool) (int, error) {
	n, err := i.b.Drain(ctx, queue, includeDelayed)
	if err != nil {
		return n, fmt.Errorf("drain queue %q: %w", queue, err)
	}
	return n, nil
}

// Clean deletes terminal jobs in state finished more than grace ago, at most limit (0 = all).
func (i *Inspector) Clean(ctx context.Context, queue string, state asyncmqtype.State, grace time.Duration, limit int) (int, error) {
	return i.CleanInBatches(ctx, queue, state, grace, limit, nil)
}

// CleanBatch is how many jobs one store call of CleanInBatches deletes at most, so that a clean
// of a large backlog never holds the store's write lock (SQLite) or one transaction's row locks
// (PostgreSQL) for long, and workers keep running meanwhile.
const CleanBatch = 10_000

// CleanInBatches is Clean in store calls of at most CleanBatch jobs, all with the cutoff taken at
// the start (jobs finishing meanwhile are not included). progress, when not nil, receives the
// running total after each call. Cancelling ctx stops between calls; the total deleted so far is
// returned with the error.
func (i *Inspector) CleanInBatches(ctx context.Context, queue string, state asyncmqtype.State, grace time.Duration, limit int, progress func(deleted int)) (int, error) {
	if !state.Terminal() {
		return 0, fmt.Errorf("clean queue %q: state %q is not completed, failed or cancelled: %w", queue, state, asyncmqtype.ErrInvalid)
	}
	if limit < 0 {
		return 0, fmt.Errorf("clean queue %q: limit %d is negative: %w", queue, limit, asyncmqtype.ErrInvalid)
	}
	cutoff := i.now().Add(-grace)
	total := 0
	for {
		batch := CleanBatch
		if limit > 0 {
			batch = min(batch, limit-total)
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("clean %s jobs of queue %q after %d deleted: %w", state, queue, total, err)
		}
		n, err := i.b.Clean(ctx, backend.CleanParams{Queue: queue, State: state, OlderThan: cutoff, Limit: batch})
		total += n
		if err != nil {
			return total, fmt.Errorf("clean %s jobs of queue %q: %w", state, queue, err)
		}
		if progress != nil {
			progress(total)
		}
		if n < batch || (limit > 0 && total >= limit) {
			return total, nil
		}
	}
}

// Obliterate deletes a queue with its jobs and repeatables; with active jobs it needs force.
func (i *Inspector) Obliterate(ctx context.Context, queue string, force bool) error {
	if err := i.b.Obliterate(ctx, queue, force); err != nil {
		return fmt.Errorf("obliterate queue %q: %w", queue, err)
	}
	return nil
}

// Repeatables lists the repeatable definitions of a queue ("" for all).
func (i *Inspector) Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error) {
	rs, err := i.b.Repeatables(ctx, queue)
	if err != nil {
		return nil, fmt.Errorf("list repeatables: %w", err)
	}
	return rs, nil
}

// PauseRepeatable stops a definition from creating jobs.
func (i *Inspector) PauseRepeatable(ctx context.Context, id string) error {
	if err := i.b.SetRepeatablePaused(ctx, id, true); err != nil {
		return fmt.Errorf("pause repeatable %q: %w", id, err)
	}
	return nil
}

// ResumeRepeatable undoes PauseRepeatable.
func (i *Inspector) ResumeRepeatable(ctx context.Context, id string) error {
	if err := i.b.SetRepeatablePaused(ctx, id, false); err != nil {
		return fmt.Errorf("resume repeatable %q: %w", id, err)
	}
	return nil
}

// RemoveRepeatable deletes a definition; jobs it already created stay.
func (i *Inspector) RemoveRepeatable(ctx context.Context, id string) error {
	if err := i.b.RemoveRepeatable(ctx, id); err != nil {
		return fmt.Errorf("remove repeatable %q: %w", id, err)
	}
	return nil
}

// Workers lists the registered workers.
func (i *Inspector) Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error) {
	ws, err := i.b.Workers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return ws, nil
}

// Events returns lifecycle events after the cursor p.After ("" for the oldest kept), at most
// p.Limit (1..1000, default 1000). Cursors are the store's: pass back the Cursor of the last
// event seen.
func (i *Inspector) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if p.Limit <= 0 || p.Limit > 1000 {
		p.Limit = 1000
	}
	evs, err := i.b.Events(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read events after cursor %q: %w", p.After, err)
	}
	return evs, nil
}

// RecentEvents returns the newest events, newest first; a Limit outside 1..1000 is clamped.
func (i *Inspector) RecentEvents(ctx context.Context, p asyncmqtype.RecentEventsParams) ([]asyncmqtype.Event, error) {
	p.Limit = min(max(p.Limit, 1), MaxPageSize)
	evs, err := i.b.RecentEvents(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	return evs, nil
}

// LastEventCursor returns the cursor of the newest event, "" when there is none: reading after
// it returns only events recorded later.
func (i *Inspector) LastEventCursor(ctx context.Context) (string, error) {
	c, err := i.b.LastEventCursor(ctx)
	if err != nil {
		return "", fmt.Errorf("read last event cursor: %w", err)
	}
	return c, nil
}

// Metrics returns per-minute counters.
func (i *Inspector) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if p.Until.IsZero() {
		p.Until = i.now()
	}
	ms, err := i.b.Metrics(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return ms, nil
}

// RecordAudit stores an audit entry.
func (i *Inspector) RecordAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error) {
	if e.At.IsZero() {
		e.At = i.now()
	}
	out, err := i.b.AppendAudit(ctx, e)
	if err != nil {
		return out, fmt.Errorf("record audit %q: %w", e.Action, err)
	}
	return out, nil
}

// Audit lists audit entries, newest first.
func (i *Inspector) Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error) {
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 200
	}
	es, err := i.b.Audit(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return es, nil
}
