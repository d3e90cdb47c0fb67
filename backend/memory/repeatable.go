package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// UpsertRepeatable creates or replaces a repeatable definition; see backend.Store.
func (b *Backend) UpsertRepeatable(ctx context.Context, r asyncmqtype.Repeatable) error {
	if err := backend.ValidateRepeatable(r); err != nil {
		return err
	}
	if err := b.lock(ctx, "upsert repeatable "+r.ID); err != nil {
		return err
	}
	defer b.mu.Unlock()
	c := cloneRepeatable(&r)
	c.NextRun, c.LastRun = c.NextRun.UTC(), c.LastRun.UTC()
	c.CreatedAt = b.timeOr(c.CreatedAt)
	if old := b.repeatables[r.ID]; old != nil && r.CreatedAt.IsZero() {
		c.CreatedAt = old.CreatedAt
	}
	b.repeatables[r.ID] = &c
	b.queue(r.Queue)
	return nil
}

// Repeatables lists the definitions of a queue ("" for all), sorted by queue then ID.
func (b *Backend) Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error) {
	if err := b.lock(ctx, "list repeatables"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	out := []asyncmqtype.Repeatable{}
	for _, r := range b.repeatables {
		if queue == "" || r.Queue == queue {
			out = append(out, cloneRepeatable(r))
		}
	}
	slices.SortFunc(out, func(x, y asyncmqtype.Repeatable) int {
		return cmp.Or(strings.Compare(x.Queue, y.Queue), strings.Compare(x.ID, y.ID))
	})
	return out, nil
}

// GetRepeatable returns one definition; asyncmqtype.ErrRepeatableNotFound if unknown.
func (b *Backend) GetRepeatable(ctx context.Context, id string) (asyncmqtype.Repeatable, error) {
	if err := b.lock(ctx, "get repeatable "+id); err != nil {
		return asyncmqtype.Repeatable{}, err
	}
	defer b.mu.Unlock()
	r := b.repeatables[id]
	if r == nil {
		return asyncmqtype.Repeatable{}, fmt.Errorf("get repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	return cloneRepeatable(r), nil
}

// SetRepeatablePaused pauses or resumes a definition.
func (b *Backend) SetRepeatablePaused(ctx context.Context, id string, paused bool) error {
	if err := b.lock(ctx, "pause repeatable "+id); err != nil {
		return err
	}
	defer b.mu.Unlock()
	r := b.repeatables[id]
	if r == nil {
		return fmt.Errorf("pause repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	r.Paused = paused
	return nil
}

// RemoveRepeatable deletes a definition; jobs it created stay.
func (b *Backend) RemoveRepeatable(ctx context.Context, id string) error {
	if err := b.lock(ctx, "remove repeatable "+id); err != nil {
		return err
	}
	defer b.mu.Unlock()
	if b.repeatables[id] == nil {
		return fmt.Errorf("remove repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	delete(b.repeatables, id)
	return nil
}

// DueRepeatables lists unpaused definitions whose NextRun <= now, sorted by NextRun then ID.
func (b *Backend) DueRepeatables(ctx context.Context, now time.Time) ([]asyncmqtype.Repeatable, error) {
	if err := b.lock(ctx, "list due repeatables"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	now = b.timeOr(now)
	var out []asyncmqtype.Repeatable
	for _, r := range b.repeatables {
		if !r.Paused && !r.NextRun.After(now) {
			out = append(out, cloneRepeatable(r))
		}
	}
	slices.SortFunc(out, func(x, y asyncmqtype.Repeatable) int {
		return cmp.Or(x.NextRun.Compare(y.NextRun), strings.Compare(x.ID, y.ID))
	})
	return out, nil
}

// FireRepeatable enqueues one run of a definition exactly once; see backend.Store.
func (b *Backend) FireRepeatable(ctx context.Context, p backend.FireParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.lock(ctx, "fire repeatable "+p.ID); err != nil {
		return err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	r := b.repeatables[p.ID]
	switch {
	case r == nil:
		return fmt.Errorf("fire repeatable %q: %w", p.ID, asyncmqtype.ErrRepeatableNotFound)
	case r.Paused:
		return fmt.Errorf("fire repeatable %q: it is paused: %w", p.ID, asyncmqtype.ErrConflict)
	case !r.NextRun.Equal(p.Expected):
		return fmt.Errorf("fire repeatable %q: next run is %s, not %s: %w",
			p.ID, r.NextRun.Format(time.RFC3339Nano), p.Expected.UTC().Format(time.RFC3339Nano), asyncmqtype.ErrConflict)
	}
	j := *p.Job
	j.RepeatableID = r.ID
	if err := b.enqueueLocked([]*asyncmqtype.JobInfo{&j}, now); err != nil {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	r.NextRun, r.LastRun = p.Next.UTC(), now
	return nil
}
