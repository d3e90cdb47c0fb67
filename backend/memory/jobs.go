package memory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// GetJob returns a copy of one job; asyncmqtype.ErrJobNotFound if unknown.
func (b *Backend) GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error) {
	if err := b.lock(ctx, "get job "+id); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	j := b.jobs[id]
	if j == nil {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	return cloneJob(j), nil
}

// matcher holds a JobFilter's text conditions, lower-cased once.
type matcher struct {
	task, id, text string
}

func newMatcher(f asyncmqtype.JobFilter) matcher {
	return matcher{task: strings.ToLower(f.Task), id: f.ID, text: strings.ToLower(f.Text)}
}

func (m matcher) empty() bool { return m == matcher{} }

func (m matcher) match(j *asyncmqtype.JobInfo) bool {
	return (m.task == "" || strings.Contains(strings.ToLower(j.Task), m.task)) &&
		(m.id == "" || strings.Contains(j.ID, m.id)) &&
		(m.text == "" || strings.Contains(strings.ToLower(string(j.Payload)), m.text))
}

// ListJobs returns one page of a queue's jobs in one state; see backend.Store.
func (b *Backend) ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	if err := p.Validate(); err != nil {
		return asyncmqtype.JobPage{}, err
	}
	f := p.Filter
	if err := b.lock(ctx, fmt.Sprintf("list %s jobs of queue %q", f.State, f.Queue)); err != nil {
		return asyncmqtype.JobPage{}, err
	}
	defer b.mu.Unlock()
	page := asyncmqtype.JobPage{Jobs: []*asyncmqtype.JobInfo{}}
	q := b.queues[f.Queue]
	if q == nil {
		return page, nil
	}
	t := q.jobs[stateIndex(f.State)]
	walk := t.descend
	if p.Sort == asyncmqtype.SortOldest {
		walk = t.ascend
	}
	m := newMatcher(f)
	if m.empty() {
		// Without text conditions the tree's counts give the total and the page's start, so a
		// page costs O(log n + Limit) however deep it is.
		page.Total = t.len()
		walk(p.Offset, func(j *asyncmqtype.JobInfo) bool {
			page.Jobs = append(page.Jobs, cloneJob(j))
			return len(page.Jobs) < p.Limit
		})
		return page, nil
	}
	walk(0, func(j *asyncmqtype.JobInfo) bool {
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
var actionStates = map[asyncmqtype.Action][]asyncmqtype.State{
	asyncmqtype.ActionRetry:   {asyncmqtype.StateCompleted, asyncmqtype.StateFailed, asyncmqtype.StateCancelled},
	asyncmqtype.ActionRemove:  indexStates[:],
	asyncmqtype.ActionCancel:  {asyncmqtype.StateWaiting, asyncmqtype.StateWaitingChildren, asyncmqtype.StateDelayed, asyncmqtype.StateActive},
	asyncmqtype.ActionPromote: {asyncmqtype.StateDelayed},
}

// ApplyJobs performs a bulk action; see backend.Store.
func (b *Backend) ApplyJobs(ctx context.Context, p asyncmqtype.ApplyParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	states := actionStates[p.Action]
	if err := b.lock(ctx, fmt.Sprintf("%s jobs", p.Action)); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)

	var targets []*asyncmqtype.JobInfo
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
			q.jobs[stateIndex(s)].ascend(0, func(j *asyncmqtype.JobInfo) bool {
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
func (b *Backend) apply(a asyncmqtype.Action, j *asyncmqtype.JobInfo, now time.Time) bool {
	switch {
	case a == asyncmqtype.ActionRetry && j.State.Terminal():
		b.update(j, func(j *asyncmqtype.JobInfo) {
			clearLease(j)
			j.State, j.RunAt, j.FinishedAt = asyncmqtype.StateWaiting, now, time.Time{}
			if j.PendingDeps > 0 {
				j.State = asyncmqtype.StateWaitingChildren
			}
			j.Attempts, j.Stalls, j.Result, j.Progress = 0, 0, nil, nil
		})
		b.emitJob(asyncmqtype.EventEnqueued, j, now, "retried")
	case (a == asyncmqtype.ActionRemove || a == asyncmqtype.ActionCancel) && j.State == asyncmqtype.StateActive:
		if j.CancelRequested {
			return false
		}
		// The flag orders no index, so the job changes in place.
		j.CancelRequested = true
		b.emitJob(asyncmqtype.EventCancelled, j, now, "cancel requested")
	case a == asyncmqtype.ActionRemove:
		b.deleteJob(j)
		b.emitJob(asyncmqtype.EventRemoved, j, now, "")
	case a == asyncmqtype.ActionCancel && (j.State == asyncmqtype.StateWaiting || j.State == asyncmqtype.StateWaitingChildren || j.State == asyncmqtype.StateDelayed):
		b.update(j, func(j *asyncmqtype.JobInfo) { j.State, j.FinishedAt = asyncmqtype.StateCancelled, now })
		b.emitJob(asyncmqtype.EventCancelled, j, now, "")
		b.parentEnded(j, now)
	case a == asyncmqtype.ActionPromote && j.State == asyncmqtype.StateDelayed:
		b.update(j, func(j *asyncmqtype.JobInfo) { j.State, j.RunAt = asyncmqtype.StateWaiting, now })
		b.emitJob(asyncmqtype.EventEnqueued, j, now, "promoted")
	default:
		return false
	}
	return true
}
