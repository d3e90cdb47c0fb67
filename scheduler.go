package asyncmq

import (
	"context"
	"errors"
	"log/slog"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// schedule promotes due delayed jobs and fires the due repeatables of the worker's queues.
func (w *Worker) schedule() {
	now := w.now()
	var promoted int
	err := w.call(func(ctx context.Context) error {
		var err error
		promoted, err = w.b.PromoteDue(ctx, now)
		return err
	})
	if err != nil {
		w.log.Warn("promote due jobs", slog.Any("error", err))
	}
	fired := w.fireRepeatables()
	if promoted > 0 || fired > 0 {
		w.wakeFetchers()
	}
	w.emit(WorkerEvent{Kind: WorkerScheduled, Count: promoted, Err: err})
}

// fireRepeatables enqueues one job for each due repeatable of the worker's queues and moves its
// next run past now. Runs missed while no worker was up are skipped, not made up. The backend's
// compare-and-set on NextRun makes each run fire once however many workers try.
func (w *Worker) fireRepeatables() int {
	now := w.now()
	var due []asyncmqtype.Repeatable
	err := w.call(func(ctx context.Context) error {
		var err error
		due, err = w.b.DueRepeatables(ctx, now)
		return err
	})
	if err != nil {
		w.log.Warn("list due repeatables", slog.Any("error", err))
		return 0
	}
	fired := 0
	for _, r := range due {
		if _, mine := w.cfg.Queues[r.Queue]; !mine {
			continue
		}
		next, err := nextRun(r, now)
		if err != nil {
			// Only a definition written around CreateRepeatable's validation gets here. Log it
			// once, not on every pass.
			if !w.badRepeatables[r.ID] {
				w.badRepeatables[r.ID] = true
				w.log.Error("repeatable has an invalid schedule; skipping it", slog.String("repeatable_id", r.ID), slog.Any("error", err))
			}
			continue
		}
		job := repeatableJob(r, now)
		err = w.call(func(ctx context.Context) error {
			return w.b.FireRepeatable(ctx, backend.FireParams{ID: r.ID, Expected: r.NextRun, Next: next, Job: job, Now: now})
		})
		switch {
		case errors.Is(err, asyncmqtype.ErrConflict):
			continue // another worker fired this run
		case err != nil:
			w.log.Warn("fire repeatable", slog.String("repeatable_id", r.ID), slog.Any("error", err))
			continue
		}
		fired++
		w.emit(WorkerEvent{Kind: WorkerRepeatableFired, Queue: r.Queue, JobID: job.ID, RepeatableID: r.ID})
	}
	return fired
}
