package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Workers lists the registered workers, newest heartbeat first.
func (b *Backend) Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error) {
	if err := b.lock(ctx, "list workers"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	out := make([]asyncmqtype.WorkerInfo, 0, len(b.workers))
	for _, w := range b.workers {
		c := *w
		c.Queues = slices.Clone(w.Queues)
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y asyncmqtype.WorkerInfo) int {
		return cmp.Or(y.LastHeartbeat.Compare(x.LastHeartbeat), strings.Compare(x.ID, y.ID))
	})
	return out, nil
}

// RemoveWorker deletes a worker record; an unknown ID is not an error.
func (b *Backend) RemoveWorker(ctx context.Context, id string) error {
	if err := b.lock(ctx, "remove worker "+id); err != nil {
		return err
	}
	defer b.mu.Unlock()
	delete(b.workers, id)
	return nil
}

// PruneWorkers deletes the records of workers whose last heartbeat is before p.Before.
func (b *Backend) PruneWorkers(ctx context.Context, p backend.PruneWorkersParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := b.lock(ctx, "prune workers"); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	n := 0
	for id, w := range b.workers {
		if w.LastHeartbeat.Before(p.Before) {
			delete(b.workers, id)
			n++
		}
	}
	return n, nil
}
