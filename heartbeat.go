package asyncmq

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// heartbeatLoop extends the worker's leases every HeartbeatInterval until ctx ends.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = w.heartbeat() // logged inside; the next tick tries again
		}
	}
}

// heartbeat refreshes the worker record, extends every held lease, and cancels the handlers of
// jobs that were cancelled or whose lease was lost.
func (w *Worker) heartbeat() error {
	w.mu.Lock()
	leases := make([]backend.Lease, 0, len(w.running))
	for _, rj := range w.running {
		leases = append(leases, rj.lease)
	}
	w.mu.Unlock()

	var res backend.HeartbeatResult
	start := time.Now()
	err := w.call(func(ctx context.Context) error {
		var err error
		res, err = w.b.Heartbeat(ctx, backend.HeartbeatParams{
			Worker: asyncmqtype.WorkerInfo{
				ID: w.id, Hostname: w.hostname, PID: os.Getpid(), Queues: w.queues, Concurrency: w.concurrency,
				StartedAt: w.startedAt, Active: len(leases),
			},
			Leases:        leases,
			LeaseDuration: w.cfg.LeaseDuration,
		})
		return err
	})
	w.emit(WorkerEvent{Kind: WorkerHeartbeat, Count: len(leases), Err: err})
	if w.storeUnusable(err) {
		return err
	}
	if err != nil {
		w.log.Warn("heartbeat", slog.Int("leases", len(leases)), slog.Any("error", err))
		return err
	}
	lost := make(map[string]bool, len(res.Lost))
	for _, id := range res.Lost {
		lost[id] = true
		w.cancelRunning(id, ErrLeaseLost)
	}
	// The leases sent and not lost now last from the start of this call.
	until := start.Add(w.cfg.LeaseDuration - w.leaseMargin())
	w.mu.Lock()
	for _, l := range leases {
		if rj := w.running[l.JobID]; rj != nil && rj.lease == l && !lost[l.JobID] {
			rj.leaseUntil = until
		}
	}
	w.mu.Unlock()
	for _, id := range res.Cancelled {
		w.log.Info("cancelling running job on request", slog.String("job_id", id))
		w.cancelRunning(id, ErrJobCancelled)
	}
	return nil
}
