package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Enqueue stores jobs all-or-nothing; see backend.Store.
func (b *Backend) Enqueue(ctx context.Context, p backend.EnqueueParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.lock(ctx, "enqueue jobs"); err != nil {
		return err
	}
	defer b.mu.Unlock()
	return b.enqueueLocked(p.Jobs, b.timeOr(p.Now))
}

func (b *Backend) enqueueLocked(in []*asyncmqtype.JobInfo, now time.Time) error {
	batch := make(map[string]*asyncmqtype.JobInfo, len(in))
	jobs := make([]*asyncmqtype.JobInfo, 0, len(in))
	for _, j := range in {
		if batch[j.ID] != nil || b.jobs[j.ID] != nil {
			return fmt.Errorf("enqueue job %q: %w", j.ID, asyncmqtype.ErrJobExists)
		}
		c := cloneJob(j)
		c.CreatedAt = timeOr(c.CreatedAt, now)
		c.RunAt = timeOr(c.RunAt, now)
		c.UniqueUntil = c.UniqueUntil.UTC()
		c.StartedAt = c.StartedAt.UTC()
		c.FinishedAt = c.FinishedAt.UTC()
		c.LeaseExpiresAt = c.LeaseExpiresAt.UTC()
		c.State = asyncmqtype.StateWaiting
		if c.RunAt.After(now) {
			c.State = asyncmqtype.StateDelayed
		}
		batch[c.ID] = c
		jobs = append(jobs, c)
	}

	held := make(map[uniqueKey]*asyncmqtype.JobInfo)
	for _, j := range jobs {
		if j.UniqueKey == "" {
			continue
		}
		k := uniqueKey{j.Queue, j.UniqueKey}
		holder := held[k]
		if holder == nil {
			holder = b.uniqueHolder(k, now)
		}
		if holder != nil {
			return fmt.Errorf("enqueue job %q: unique key %q of queue %q is held by job %q: %w",
				j.ID, j.UniqueKey, j.Queue, holder.ID, asyncmqtype.ErrDuplicateJob)
		}
		if uniqueLive(j, now) {
			held[k] = j
		}
	}

	for _, j := range jobs {
		for _, pid := range j.DependsOn {
			if batch[pid] == nil && b.jobs[pid] == nil {
				return fmt.Errorf("enqueue job %q: parent job %q: %w", j.ID, pid, asyncmqtype.ErrJobNotFound)
			}
		}
	}

	// Pending parents are counted before any job of the batch is stored: a parent in the batch
	// is new, so it is pending by definition.
	for _, j := range jobs {
		j.PendingDeps = 0
		for _, pid := range distinct(j.DependsOn) {
			if p := b.jobs[pid]; p != nil && p.State == asyncmqtype.StateCompleted {
				continue
			}
			j.PendingDeps++
			b.children[pid] = append(b.children[pid], j.ID)
		}
		if j.PendingDeps > 0 {
			j.State = asyncmqtype.StateWaitingChildren
		}
	}
	for _, j := range jobs {
		b.jobs[j.ID] = j
		b.index(j)
		if j.UniqueKey != "" {
			k := uniqueKey{j.Queue, j.UniqueKey}
			b.unique[k] = append(b.unique[k], j.ID)
		}
		b.emitJob(asyncmqtype.EventEnqueued, j, now, "")
	}
	// The caller learns the state each job was stored in without reading it back.
	for i, j := range in {
		j.State, j.PendingDeps = jobs[i].State, jobs[i].PendingDeps
	}
	return nil
}

func timeOr(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t.UTC()
}

// uniqueLive reports whether j holds its unique key at now.
func uniqueLive(j *asyncmqtype.JobInfo, now time.Time) bool {
	if j.UniqueUntil.IsZero() {
		return !j.State.Terminal()
	}
	return j.UniqueUntil.After(now)
}

func (b *Backend) uniqueHolder(k uniqueKey, now time.Time) *asyncmqtype.JobInfo {
	for _, id := range b.unique[k] {
		if j := b.jobs[id]; j != nil && uniqueLive(j, now) {
			return j
		}
	}
	return nil
}
