package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// CountsLag is 0: the per-state counters change in the transaction that moves the jobs.
func (b *Backend) CountsLag() time.Duration { return 0 }

// notify sends the signals a committed transaction gathered.
func (b *Backend) notify(queues []string) {
	for _, q := range queues {
		b.signals.Notify(q)
	}
}

const (
	qElect = `INSERT INTO asyncmq_leaders (name, holder, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
WHERE asyncmq_leaders.holder = excluded.holder OR asyncmq_leaders.expires < ?4`
	qLeader = `SELECT holder, expires FROM asyncmq_leaders WHERE name = ?`
)

// Elect takes the lease on p.Name for p.Holder until Now+TTL when it is free, held by p.Holder
// or expired (expiring before Now), in one write transaction; see backend.Elector.
func (b *Backend) Elect(ctx context.Context, p backend.ElectParams) (backend.Leadership, error) {
	if err := p.Validate(); err != nil {
		return backend.Leadership{}, err
	}
	var l backend.Leadership
	err := b.write(ctx, b.clock(p.Now), func(w *wtx) error {
		if _, err := w.exec(qElect, p.Name, p.Holder, nanoInt(w.now.Add(p.TTL)), nanoInt(w.now)); err != nil {
			return err
		}
		var expires int64
		if err := w.queryRow(qLeader, p.Name).Scan(&l.Holder, &expires); err != nil {
			return err
		}
		l.Expires = fromNanos(expires)
		return nil
	})
	if err != nil {
		return backend.Leadership{}, fmt.Errorf("elect leader of %q: %w", p.Name, err)
	}
	return l, nil
}

// Resign deletes the lease on p.Name if p.Holder holds it; see backend.Elector.
func (b *Backend) Resign(ctx context.Context, p backend.ResignParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	err := b.write(ctx, b.now(), func(w *wtx) error {
		_, err := w.exec(`DELETE FROM asyncmq_leaders WHERE name = ? AND holder = ?`, p.Name, p.Holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("resign leadership of %q: %w", p.Name, err)
	}
	return nil
}

// PruneWorkers deletes the worker records whose last heartbeat is before p.Before.
func (b *Backend) PruneWorkers(ctx context.Context, p backend.PruneWorkersParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	var n int64
	err := b.write(ctx, b.now(), func(w *wtx) error {
		res, err := w.exec(`DELETE FROM asyncmq_workers WHERE last_heartbeat < ?`, nanoInt(p.Before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", err)
	}
	return int(n), nil
}
