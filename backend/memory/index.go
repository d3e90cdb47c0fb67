package memory

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Every job is in exactly one listing tree of its queue (by state) and in at most one work tree:
//
//	waiting                      -> queue.ready     (claim order)
//	waiting-children             -> none            (reached through Backend.children)
//	delayed                      -> Backend.delayed (RunAt order, for PromoteDue)
//	active                       -> Backend.leases  (lease expiry order, for RecoverStalled)
//	completed, failed, cancelled -> queue.finished  (FinishedAt order, for Clean)
//
// Each tree orders by fields of the job, so a job is taken out of its trees before any of those
// fields change and put back afterwards (Backend.update).

const numStates = asyncmqtype.NumStates

// stateIndex is s's position in asyncmqtype.States; the states of stored jobs are always known.
func stateIndex(s asyncmqtype.State) int {
	if i := s.Index(); i >= 0 {
		return i
	}
	return numStates - 1
}

var indexStates = [numStates]asyncmqtype.State{
	asyncmqtype.StateWaiting, asyncmqtype.StateActive, asyncmqtype.StateDelayed,
	asyncmqtype.StateCompleted, asyncmqtype.StateFailed, asyncmqtype.StateCancelled,
	asyncmqtype.StateWaitingChildren,
}

type queue struct {
	name   string
	paused bool

	rateLimit    int
	rateInterval time.Duration
	windowStart  time.Time
	windowCount  int

	jobs     [numStates]*tree[*asyncmqtype.JobInfo]
	ready    *tree[*asyncmqtype.JobInfo]
	finished [numStates]*tree[*asyncmqtype.JobInfo]
}

func byCreated(a, b *asyncmqtype.JobInfo) bool {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID)) < 0
}

func byClaimOrder(a, b *asyncmqtype.JobInfo) bool {
	return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.RunAt.Compare(b.RunAt), strings.Compare(a.ID, b.ID)) < 0
}

func byRunAt(a, b *asyncmqtype.JobInfo) bool {
	return cmp.Or(a.RunAt.Compare(b.RunAt), strings.Compare(a.ID, b.ID)) < 0
}

func byLease(a, b *asyncmqtype.JobInfo) bool {
	return cmp.Or(a.LeaseExpiresAt.Compare(b.LeaseExpiresAt), strings.Compare(a.ID, b.ID)) < 0
}

func byFinished(a, b *asyncmqtype.JobInfo) bool {
	return cmp.Or(a.FinishedAt.Compare(b.FinishedAt), strings.Compare(a.ID, b.ID)) < 0
}

// queue returns the named queue, creating it.
func (b *Backend) queue(name string) *queue {
	if q := b.queues[name]; q != nil {
		return q
	}
	q := &queue{name: name, ready: newTree(byClaimOrder)}
	for i, s := range indexStates {
		q.jobs[i] = newTree(byCreated)
		if s.Terminal() {
			q.finished[i] = newTree(byFinished)
		}
	}
	b.queues[name] = q
	return q
}

func (b *Backend) index(j *asyncmqtype.JobInfo) {
	q := b.queue(j.Queue)
	i := stateIndex(j.State)
	q.jobs[i].insert(j)
	switch j.State {
	case asyncmqtype.StateWaiting:
		q.ready.insert(j)
	case asyncmqtype.StateWaitingChildren:
	case asyncmqtype.StateDelayed:
		b.delayed.insert(j)
	case asyncmqtype.StateActive:
		b.leases.insert(j)
	default:
		q.finished[i].insert(j)
	}
}

func (b *Backend) unindex(j *asyncmqtype.JobInfo) {
	q := b.queues[j.Queue]
	i := stateIndex(j.State)
	q.jobs[i].remove(j)
	switch j.State {
	case asyncmqtype.StateWaiting:
		q.ready.remove(j)
	case asyncmqtype.StateWaitingChildren:
	case asyncmqtype.StateDelayed:
		b.delayed.remove(j)
	case asyncmqtype.StateActive:
		b.leases.remove(j)
	default:
		q.finished[i].remove(j)
	}
}

// update changes a stored job and keeps the indexes in step.
func (b *Backend) update(j *asyncmqtype.JobInfo, change func(j *asyncmqtype.JobInfo)) {
	b.unindex(j)
	change(j)
	b.index(j)
}

// deleteJob removes a job and every reference to it.
func (b *Backend) deleteJob(j *asyncmqtype.JobInfo) {
	b.unindex(j)
	delete(b.jobs, j.ID)
	if j.UniqueKey != "" {
		k := uniqueKey{j.Queue, j.UniqueKey}
		if ids := slices.DeleteFunc(b.unique[k], func(id string) bool { return id == j.ID }); len(ids) > 0 {
			b.unique[k] = ids
		} else {
			delete(b.unique, k)
		}
	}
	for _, p := range distinct(j.DependsOn) {
		if ids := slices.DeleteFunc(b.children[p], func(id string) bool { return id == j.ID }); len(ids) > 0 {
			b.children[p] = ids
		} else {
			delete(b.children, p)
		}
	}
	// Children of a job deleted before it completed stay blocked, as they do when it fails.
	delete(b.children, j.ID)
}

// unblockChildren counts a completed parent off the jobs that wait for it; a job with no pending
// parent left leaves waiting-children for waiting (or delayed, before its RunAt). The edges go
// with the parent, so a parent that completes again after a retry is not counted twice.
func (b *Backend) unblockChildren(parentID string, now time.Time) {
	ids := b.children[parentID]
	delete(b.children, parentID)
	for _, id := range ids {
		if c := b.jobs[id]; c != nil && c.PendingDeps > 0 {
			b.update(c, func(c *asyncmqtype.JobInfo) {
				c.PendingDeps--
				if c.PendingDeps == 0 && c.State == asyncmqtype.StateWaitingChildren {
					c.State = asyncmqtype.StateWaiting
					if c.RunAt.After(now) {
						c.State = asyncmqtype.StateDelayed
					}
				}
			})
			if c.State == asyncmqtype.StateWaiting {
				b.notify(c.Queue)
			}
		}
	}
}

// parentEnded applies the OnParentFailure policy of the waiting-children jobs of a parent that
// has just failed or been cancelled, and cascades to the children of the jobs it ends. The edges
// stay, so a child kept waiting still runs when the parent is retried and completes.
func (b *Backend) parentEnded(parent *asyncmqtype.JobInfo, now time.Time) {
	ended := []*asyncmqtype.JobInfo{parent}
	for len(ended) > 0 {
		p := ended[0]
		ended = ended[1:]
		msg := backend.ParentFailureMessage(p.ID, p.State)
		for _, id := range b.children[p.ID] {
			c := b.jobs[id]
			if c == nil || c.State != asyncmqtype.StateWaitingChildren || c.OnParentFailure == asyncmqtype.ParentFailureWait {
				continue
			}
			b.update(c, func(c *asyncmqtype.JobInfo) {
				c.FinishedAt = now
				if c.OnParentFailure == asyncmqtype.ParentFailureCancel {
					c.State = asyncmqtype.StateCancelled
					return
				}
				c.State = asyncmqtype.StateFailed
				c.Errors = append(c.Errors, asyncmqtype.AttemptError{Attempt: c.Attempts, At: now, Error: msg})
			})
			if c.State == asyncmqtype.StateCancelled {
				b.emitJob(asyncmqtype.EventCancelled, c, now, msg)
			} else {
				b.emitJob(asyncmqtype.EventFailed, c, now, msg)
			}
			ended = append(ended, c)
		}
	}
}

// clearLease is what every transition out of active does.
func clearLease(j *asyncmqtype.JobInfo) {
	j.LeaseToken = ""
	j.LeaseExpiresAt = time.Time{}
	j.CancelRequested = false
}

// held returns the job if it is active under token, or nil.
func (b *Backend) held(id, token string) *asyncmqtype.JobInfo {
	j := b.jobs[id]
	if j == nil || j.State != asyncmqtype.StateActive || token == "" || j.LeaseToken != token {
		return nil
	}
	return j
}

// allowance is how many more jobs the queue's rate limit lets a claim at now take.
func (q *queue) allowance(now time.Time) int {
	switch {
	case q.rateLimit <= 0:
		return math.MaxInt
	case q.windowOpen(now):
		return max(0, q.rateLimit-q.windowCount)
	default:
		return q.rateLimit
	}
}

// windowOpen reports whether now falls in the current rate window. A now before the window's
// start (another worker's clock runs behind) counts as inside it.
func (q *queue) windowOpen(now time.Time) bool {
	return !q.windowStart.IsZero() && now.Before(q.windowStart.Add(q.rateInterval))
}

func (q *queue) take(now time.Time) {
	if q.rateLimit <= 0 {
		return
	}
	if !q.windowOpen(now) {
		q.windowStart, q.windowCount = now, 0
	}
	q.windowCount++
}

// next returns the first claimable job of the queue at now.
func (q *queue) next(now time.Time) *asyncmqtype.JobInfo {
	var found *asyncmqtype.JobInfo
	// A waiting job normally has RunAt <= now; one that does not (the enqueuer's clock ran ahead)
	// is stepped over rather than blocking the queue.
	q.ready.ascend(0, func(j *asyncmqtype.JobInfo) bool {
		if j.RunAt.After(now) {
			return true
		}
		found = j
		return false
	})
	return found
}

func distinct(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
