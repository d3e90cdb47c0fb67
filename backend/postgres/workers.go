package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Workers lists the registered workers, newest heartbeat first.
func (b *Backend) Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error) {
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	rows, err := b.pool.Query(ctx, `SELECT id, hostname, pid, queues, concurrency, started_at, last_heartbeat, active
FROM asyncmq_workers ORDER BY last_heartbeat DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.WorkerInfo{}
	for rows.Next() {
		var (
			wi        asyncmqtype.WorkerInfo
			start, hb *time.Time
		)
		if err := rows.Scan(&wi.ID, &wi.Hostname, &wi.PID, &wi.Queues, &wi.Concurrency, &start, &hb, &wi.Active); err != nil {
			return nil, fmt.Errorf("list workers: %w", err)
		}
		wi.StartedAt, wi.LastHeartbeat = utc(start), utc(hb)
		out = append(out, wi)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list workers: %w", b.fail(err))
	}
	return out, nil
}

// RemoveWorker deletes a worker record; removing an unknown worker is not an error.
func (b *Backend) RemoveWorker(ctx context.Context, id string) error {
	if err := b.open(ctx); err != nil {
		return fmt.Errorf("remove worker %q: %w", id, err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM asyncmq_workers WHERE id = $1`, id); err != nil {
		return fmt.Errorf("remove worker %q: %w", id, b.fail(err))
	}
	return nil
}
