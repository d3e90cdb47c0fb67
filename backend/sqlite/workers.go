package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Workers lists the registered workers, newest heartbeat first.
func (b *Backend) Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("list workers: %w", asyncmqtype.ErrClosed)
	}
	rows, err := b.query(ctx, `SELECT id, hostname, pid, queues, concurrency, started_at, last_heartbeat, active
FROM asyncmq_workers ORDER BY last_heartbeat DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.WorkerInfo{}
	for rows.Next() {
		var (
			wi        asyncmqtype.WorkerInfo
			queues    []byte
			start, hb int64
		)
		if err := rows.Scan(&wi.ID, &wi.Hostname, &wi.PID, &queues, &wi.Concurrency, &start, &hb, &wi.Active); err != nil {
			return nil, fmt.Errorf("list workers: %w", err)
		}
		if err := json.Unmarshal(queues, &wi.Queues); err != nil {
			return nil, fmt.Errorf("list workers: decode queues of worker %q: %w", wi.ID, err)
		}
		wi.StartedAt, wi.LastHeartbeat = fromNanos(start), fromNanos(hb)
		out = append(out, wi)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list workers: %w", b.fail(err))
	}
	return out, nil
}

// RemoveWorker deletes a worker record; removing an unknown worker is not an error.
func (b *Backend) RemoveWorker(ctx context.Context, id string) error {
	err := b.write(ctx, b.now(), func(w *wtx) error {
		_, err := w.exec(`DELETE FROM asyncmq_workers WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("remove worker %q: %w", id, err)
	}
	return nil
}
