package asyncmq

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// promoteBatch bounds one PromoteDue call, so a backlog of due jobs never holds the store for
// long; schedule repeats the call while batches come back full.
const promoteBatch = 1000

// maxPromoteBatches bounds one scheduling pass; the next pass takes the rest.
const maxPromoteBatches = 100

// schedule promotes due delayed jobs and fires the due repeatables of the store. Due times are
// checked on the store's clock.
func (w *Worker) schedule() {
	var promoted int
	var err error
	for range maxPromoteBatches {
		var n int
		err = w.call(func(ctx context.Context) error {
			var err error
			n, err = w.b.PromoteDue(ctx, backend.PromoteParams{Limit: promoteBatch})
			return err
		})
		promoted += n
		if err != nil || n < promoteBatch {
			break
		}
	}
	if err != nil {
		w.log.Warn("promote due jobs", slog.Any("error", err))
	}
	fired := w.fireRepeatables()
	if promoted > 0 || fired > 0 {
		w.wakeFetchers()
	}
	w.emit(WorkerEvent{Kind: WorkerScheduled, Count: promoted, Err: err})
}

// fireRepeatables enqueues one job for each due repeatable of the store and moves its next run
// past now. Runs missed while no worker was up are skipped, not made up. The backend's
// compare-and-set on NextRun makes each run fire once however many workers try.
func (w *Worker) fireRepeatables() int {
	now := w.now()
	var due []asyncmqtype.Repeatable
	err := w.call(func(ctx context.Context) error {
		var err error
		due, err = w.b.DueRepeatables(ctx, time.Time{}) // the store's clock
		return err
	})
	if err != nil {
		w.log.Warn("list due repeatables", slog.Any("error", err))
		return 0
	}
	fired := 0
	for _, r := range due {
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
		job := repeatableJob(r)
		err = w.call(func(ctx context.Context) error {
			return w.b.FireRepeatable(ctx, backend.FireParams{ID: r.ID, Expected: r.NextRun, Next: next, Job: job, FreshID: true})
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
