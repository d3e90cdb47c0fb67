package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// CountsLag is how old the cached counts of a large queue may be (listcache.go); a queue of
// fewer than 10,000 jobs is counted from the jobs' listing index when asked for, exactly.
func (b *Backend) CountsLag() time.Duration { return countsLag }

// AcrossProcesses is true: signals travel between processes by LISTEN/NOTIFY (see Subscribe).
func (b *Backend) AcrossProcesses() bool { return true }

const qElect = `WITH up AS (
	INSERT INTO asyncmq_leaders (name, holder, expires) VALUES ($1, $2, $3)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
	WHERE asyncmq_leaders.holder = excluded.holder OR asyncmq_leaders.expires < $4
	RETURNING holder, expires
)
SELECT holder, expires FROM up
UNION ALL SELECT holder, expires FROM asyncmq_leaders WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM up)`

// Elect takes the lease on p.Name for p.Holder until Now+TTL when it is free, held by p.Holder
// or expired (expiring before Now), in one statement; see backend.Elector. The row lock of the
// upsert orders concurrent candidates, so exactly one of them takes a free lease.
func (b *Backend) Elect(ctx context.Context, p backend.ElectParams) (backend.Leadership, error) {
	if err := p.Validate(); err != nil {
		return backend.Leadership{}, err
	}
	if err := b.open(ctx); err != nil {
		return backend.Leadership{}, fmt.Errorf("elect leader of %q: %w", p.Name, err)
	}
	now := b.clock(p.Now)
	var l backend.Leadership
	if err := b.pool.QueryRow(ctx, qElect, p.Name, p.Holder, now.Add(p.TTL), now).Scan(&l.Holder, &l.Expires); err != nil {
		return backend.Leadership{}, fmt.Errorf("elect leader of %q: %w", p.Name, b.fail(err))
	}
	l.Expires = l.Expires.UTC()
	return l, nil
}

// Resign deletes the lease on p.Name if p.Holder holds it; see backend.Elector.
func (b *Backend) Resign(ctx context.Context, p backend.ResignParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("resign leadership of %q: %w", p.Name, err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM asyncmq_leaders WHERE name = $1 AND holder = $2`, p.Name, p.Holder); err != nil {
		return fmt.Errorf("resign leadership of %q: %w", p.Name, b.fail(err))
	}
	return nil
}

// PruneWorkers deletes the worker records whose last heartbeat is before p.Before.
func (b *Backend) PruneWorkers(ctx context.Context, p backend.PruneWorkersParams) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	if err := b.open(ctx); err != nil {
		return 0, fmt.Errorf("prune workers: %w", err)
	}
	tag, err := b.pool.Exec(ctx, `DELETE FROM asyncmq_workers WHERE last_heartbeat < $1`, p.Before)
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", b.fail(err))
	}
	return int(tag.RowsAffected()), nil
}
