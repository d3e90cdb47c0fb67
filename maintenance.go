package asyncmq

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// stalledBatch caps the jobs one stalled-recovery pass handles; the next pass takes the rest.
const stalledBatch = 1000

// maintain runs the periodic services of the store: scheduling (delayed-job promotion and
// repeatables), stalled-job recovery, retention and pruning of dead workers' records. They run on
// one worker of the store at a time, the maintenance leader (see leader.go); the others only keep
// trying to become leader. A new leader runs every service at once, so a store whose leader died
// catches up as soon as another worker takes over. Each service is a series of atomic store calls,
// so two workers that briefly both believe they lead do no harm: a job is promoted or recovered
// once, and a repeatable run fires once (FireRepeatable's compare-and-set).
func (w *Worker) maintain(ctx context.Context) {
	schedule := time.NewTicker(w.cfg.ScheduleInterval)
	defer schedule.Stop()
	stalled := time.NewTicker(w.cfg.StalledInterval)
	defer stalled.Stop()
	var retention <-chan time.Time
	if w.cfg.Retention.active() {
		t := time.NewTicker(w.cfg.Retention.Interval)
		defer t.Stop()
		retention = t.C
	}
	elect := time.NewTicker(w.leader.renewEvery())
	defer elect.Stop()
	defer w.leader.resign(w)

	catchUp := func() {
		if w.cfg.Retention.active() {
			w.clean()
		}
		w.compact()
		w.recoverStalled()
		w.pruneWorkers()
		w.schedule()
	}
	if w.leader.elect(w) {
		catchUp()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-elect.C:
			was := w.leader.leading()
			if w.leader.elect(w) && !was {
				catchUp()
			}
		case <-schedule.C:
			if w.leader.leading() {
				w.schedule()
			}
		case <-stalled.C:
			if w.leader.leading() {
				w.recoverStalled()
				w.pruneWorkers()
			}
		case <-retention:
			if w.leader.leading() {
				w.clean()
				w.compact()
			}
		}
	}
}

// wakeFetchers makes idle fetchers claim now, after jobs became runnable.
func (w *Worker) wakeFetchers() {
	for _, f := range w.fetchers {
		f.wake()
	}
}

// recoverStalled requeues (or fails, past MaxStalls) active jobs whose lease expired.
func (w *Worker) recoverStalled() {
	var res backend.RecoverResult
	err := w.call(func(ctx context.Context) error {
		var err error
		res, err = w.b.RecoverStalled(ctx, backend.RecoverParams{MaxStalls: w.cfg.MaxStalls, Limit: stalledBatch})
		return err
	})
	n := len(res.Requeued) + len(res.Failed)
	w.emit(WorkerEvent{Kind: WorkerRecovered, Count: n, Err: err})
	if err != nil {
		w.log.Warn("recover stalled jobs", slog.Any("error", err))
		return
	}
	if n > 0 {
		w.log.Warn("recovered stalled jobs whose worker stopped heartbeating",
			slog.Int("requeued", len(res.Requeued)), slog.Int("failed", len(res.Failed)))
	}
	if len(res.Requeued) > 0 {
		w.wakeFetchers()
	}
}

// active reports whether the retention removes anything.
func (r *Retention) active() bool {
	for _, p := range []RetentionPolicy{r.Completed, r.Failed, r.Cancelled} {
		if p.MaxAge > 0 || p.MaxCount > 0 {
			return true
		}
	}
	return false
}

// clean deletes the finished jobs that the retention no longer keeps, in every queue of the
// store: retention is store-wide, applied by the maintenance leader.
func (w *Worker) clean() {
	r := w.cfg.Retention
	now := w.now()
	total := 0
	var queues []asyncmqtype.QueueInfo
	firstErr := w.call(func(ctx context.Context) error {
		var err error
		queues, err = w.b.Queues(ctx)
		return err
	})
	for _, qi := range queues {
		q := qi.Name
		for _, s := range []struct {
			state asyncmqtype.State
			p     RetentionPolicy
		}{{asyncmqtype.StateCompleted, r.Completed}, {asyncmqtype.StateFailed, r.Failed}, {asyncmqtype.StateCancelled, r.Cancelled}} {
			var params []backend.CleanParams
			if s.p.MaxAge > 0 {
				params = append(params, backend.CleanParams{Queue: q, State: s.state, OlderThan: now.Add(-s.p.MaxAge)})
			}
			if s.p.MaxCount > 0 {
				params = append(params, backend.CleanParams{Queue: q, State: s.state, OlderThan: now, Keep: s.p.MaxCount})
			}
			for _, p := range params {
				var n int
				err := w.call(func(ctx context.Context) error {
					var err error
					n, err = w.b.Clean(ctx, p)
					return err
				})
				total += n
				// A queue obliterated since it was listed has nothing left to clean.
				if errors.Is(err, asyncmqtype.ErrQueueNotFound) {
					err = nil
				}
				if err != nil {
					w.log.Warn("clean finished jobs", slog.String("queue", q), slog.String("state", string(s.state)), slog.Any("error", err))
					if firstErr == nil {
						firstErr = err
					}
				}
			}
		}
	}
	if total > 0 {
		w.log.Debug("cleaned finished jobs", slog.Int("deleted", total))
	}
	w.emit(WorkerEvent{Kind: WorkerCleaned, Count: total, Err: firstErr})
}

// compact has a store that implements backend.Compactor drop the events of jobs retention
// deleted and give freed space back, in bounded steps; see the store's Compact.
func (w *Worker) compact() {
	c, ok := w.b.(backend.Compactor)
	if !ok {
		return
	}
	var res backend.CompactResult
	err := w.call(func(ctx context.Context) error {
		var err error
		res, err = c.Compact(ctx, backend.CompactParams{})
		return err
	})
	if w.storeUnusable(err) {
		return
	}
	if err != nil {
		w.log.Warn("compact the store", slog.Any("error", err))
	} else if res.Events > 0 || res.Bytes > 0 {
		w.log.Debug("compacted the store", slog.Int("events", res.Events), slog.Int64("bytes", res.Bytes))
	}
}

// pruneWorkers deletes the records of workers that stopped heartbeating long ago (killed without
// a clean shutdown), so the worker list shows live workers only.
func (w *Worker) pruneWorkers() {
	var n int
	err := w.call(func(ctx context.Context) error {
		var err error
		n, err = w.b.PruneWorkers(ctx, backend.PruneWorkersParams{Before: w.now().Add(-w.cfg.pruneWorkersAfter())})
		return err
	})
	if err != nil {
		w.log.Warn("prune dead workers", slog.Any("error", err))
	} else if n > 0 {
		w.log.Info("pruned the records of dead workers", slog.Int("workers", n))
	}
}
