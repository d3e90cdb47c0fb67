package memory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// maxPageSize is the largest Limit ListJobs accepts, as the contract states.
const maxPageSize = 1000

// GetJob returns a copy of one job; backend.ErrJobNotFound if unknown.
func (b *Backend) GetJob(ctx context.Context, id string) (*backend.Job, error) {
	if err := b.lock(ctx, "get job "+id); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	j := b.jobs[id]
	if j == nil {
		return nil, fmt.Errorf("get job %q: %w", id, backend.ErrJobNotFound)
	}
	return cloneJob(j), nil
}

// matcher holds a JobFilter's text conditions, lower-cased once.
type matcher struct {
	task, id, text string
}

func newMatcher(f backend.JobFilter) matcher {
	return matcher{task: strings.ToLower(f.Task), id: f.ID, text: strings.ToLower(f.Text)}
}

func (m matcher) empty() bool { return m == matcher{} }

func (m matcher) match(j *backend.Job) bool {
	return (m.task == "" || strings.Contains(strings.ToLower(j.Task), m.task)) &&
		(m.id == "" || strings.Contains(j.ID, m.id)) &&
		(m.text == "" || strings.Contains(strings.ToLower(string(j.Payload)), m.text))
}

// ListJobs returns one page of a queue's jobs in one state; see backend.Backend.
func (b *Backend) ListJobs(ctx context.Context, p backend.ListJobsParams) (backend.JobPage, error) {
	f := p.Filter
	switch {
	case f.Queue == "":
		return backend.JobPage{}, invalid("list jobs: empty queue")
	case !f.State.Valid():
		return backend.JobPage{}, invalid("list jobs of queue %q: unknown state %q", f.Queue, f.State)
	case p.Sort != "" && p.Sort != backend.SortNewest && p.Sort != backend.SortOldest:
		return backend.JobPage{}, invalid("list jobs of queue %q: unknown sort %q", f.Queue, p.Sort)
	case p.Limit < 1 || p.Limit > maxPageSize:
		return backend.JobPage{}, invalid("list jobs of queue %q: limit %d is outside 1..%d", f.Queue, p.Limit, maxPageSize)
	case p.Offset < 0:
		return backend.JobPage{}, invalid("list jobs of queue %q: negative offset %d", f.Queue, p.Offset)
	}
	if err := b.lock(ctx, fmt.Sprintf("list %s jobs of queue %q", f.State, f.Queue)); err != nil {
		return backend.JobPage{}, err
	}
	defer b.mu.Unlock()
	page := backend.JobPage{Jobs: []*backend.Job{}}
	q := b.queues[f.Queue]
	if q == nil {
		return page, nil
	}
	t := q.jobs[stateIndex(f.State)]
	walk := t.descend
	if p.Sort == backend.SortOldest {
		walk = t.ascend
	}
	m := newMatcher(f)
	if m.empty() {
		// Without text conditions the tree's counts give the total and the page's start, so a
		// page costs O(log n + Limit) however deep it is.
		page.Total = t.len()
		walk(p.Offset, func(j *backend.Job) bool {
			page.Jobs = append(page.Jobs, cloneJob(j))
			return len(page.Jobs) < p.Limit
		})
		return page, nil
	}
	walk(0, func(j *backend.Job) bool {
		if !m.match(j) {
			return true
		}
		if page.Total >= p.Offset && len(page.Jobs) < p.Limit {
			page.Jobs = append(page.Jobs, cloneJob(j))
		}
		page.Total++
		return true
	})
	return page, nil
}

// actionStates lists the states in which an action changes a job.
var actionStates = map[backend.Action][]backend.State{
	backend.ActionRetry:   {backend.StateCompleted, backend.StateFailed, backend.StateCancelled},
	backend.ActionRemove:  indexStates[:],
	backend.ActionCancel:  {backend.StateWaiting, backend.StateDelayed, backend.StateActive},
	backend.ActionPromote: {backend.StateDelayed},
}

// ApplyJobs performs a bulk action; see backend.Backend.
func (b *Backend) ApplyJobs(ctx context.Context, p backend.ApplyParams) (int, error) {
	states, ok := actionStates[p.Action]
	switch {
	case !ok:
		return 0, invalid("apply job action: unknown action %q", p.Action)
	case p.Filter.State != "" && !p.Filter.State.Valid():
		return 0, invalid("%s jobs: unknown state %q", p.Action, p.Filter.State)
	case len(p.IDs) == 0 && p.Filter.Queue == "":
		return 0, invalid("%s jobs: neither IDs nor a queue given", p.Action)
	}
	if err := b.lock(ctx, fmt.Sprintf("%s jobs", p.Action)); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)

	var targets []*backend.Job
	if len(p.IDs) > 0 {
		for _, id := range distinct(p.IDs) {
			if j := b.jobs[id]; j != nil && (p.Filter.Queue == "" || j.Queue == p.Filter.Queue) {
				targets = append(targets, j)
			}
		}
	} else if q := b.queues[p.Filter.Queue]; q != nil {
		m := newMatcher(p.Filter)
		for _, s := range states {
			if p.Filter.State != "" && s != p.Filter.State {
				continue
			}
			q.jobs[stateIndex(s)].ascend(0, func(j *backend.Job) bool {
				if m.match(j) {
					targets = append(targets, j)
				}
				return true
			})
		}
	}
	n := 0
	for _, j := range targets {
		if b.apply(p.Action, j, now) {
			n++
		}
	}
	return n, nil
}

// apply performs one action on one job and reports whether it changed it.
func (b *Backend) apply(a backend.Action, j *backend.Job, now time.Time) bool {
	switch {
	case a == backend.ActionRetry && j.State.Terminal():
		b.update(j, func(j *backend.Job) {
			clearLease(j)
			j.State, j.RunAt, j.FinishedAt = backend.StateWaiting, now, time.Time{}
			j.Attempts, j.Stalls, j.Result, j.Progress = 0, 0, nil, nil
		})
		b.emitJob(backend.EventEnqueued, j, now, "retried")
	case (a == backend.ActionRemove || a == backend.ActionCancel) && j.State == backend.StateActive:
		if j.CancelRequested {
			return false
		}
		// The flag orders no index, so the job changes in place.
		j.CancelRequested = true
		b.emitJob(backend.EventCancelled, j, now, "cancel requested")
	case a == backend.ActionRemove:
		b.deleteJob(j)
		b.emitJob(backend.EventRemoved, j, now, "")
	case a == backend.ActionCancel && (j.State == backend.StateWaiting || j.State == backend.StateDelayed):
		b.update(j, func(j *backend.Job) { j.State, j.FinishedAt = backend.StateCancelled, now })
		b.emitJob(backend.EventCancelled, j, now, "")
	case a == backend.ActionPromote && j.State == backend.StateDelayed:
		b.update(j, func(j *backend.Job) { j.State, j.RunAt = backend.StateWaiting, now })
		b.emitJob(backend.EventEnqueued, j, now, "promoted")
	default:
		return false
	}
	return true
}
