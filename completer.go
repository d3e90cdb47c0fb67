package asyncmq

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const (
	// completerMaxBatch caps the outcomes stored in one Finish call.
	completerMaxBatch = 500
	// completerFlushDelay is how long the completer gathers outcomes before storing them: one
	// round trip per few milliseconds instead of one per job. On SQLite, 5ms stores about 150
	// outcomes per transaction at concurrency 50; 2ms halves the batch and costs ~15% more CPU
	// per job.
	completerFlushDelay = 5 * time.Millisecond
	// completerBacklog bounds the outcomes waiting to be stored. When it is full, finished
	// handlers wait before freeing their slot, so a slow store slows claiming instead of letting
	// unsaved outcomes pile up in memory.
	completerBacklog = 4 * completerMaxBatch
	// finishRetryMin and finishRetryMax bound the backoff between attempts to store outcomes
	// while the store fails; attempts go on while the leases hold (see flush).
	finishRetryMin = 50 * time.Millisecond
	finishRetryMax = time.Second
)

// finishItem is the outcome of one job, waiting to be stored.
type finishItem struct {
	fin   backend.Finish
	rj    *runningJob
	queue string
	task  string
}

// completer stores job outcomes in batches, in the manner of River's batch completer.
type completer struct {
	w         *Worker
	in        chan finishItem
	closeOnce sync.Once
	closed    chan struct{}
}

func newCompleter(w *Worker) *completer {
	return &completer{w: w, in: make(chan finishItem, completerBacklog), closed: make(chan struct{})}
}

// add queues an outcome for storing. After close it drops the outcome: the job is still held
// and the shutdown releases it.
func (c *completer) add(it finishItem) {
	select {
	case <-c.closed:
		return
	default:
	}
	select {
	case c.in <- it:
	case <-c.closed:
	}
}

// close makes run store what is queued and return.
func (c *completer) close() { c.closeOnce.Do(func() { close(c.closed) }) }

func (c *completer) run() {
	batch := make([]finishItem, 0, completerMaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case it := <-c.in:
			batch = append(batch, it)
		case <-c.closed:
			c.drain(batch)
			return
		}
		timer.Reset(completerFlushDelay)
	gather:
		for len(batch) < completerMaxBatch {
			select {
			case it := <-c.in:
				batch = append(batch, it)
			case <-timer.C:
				break gather
			case <-c.closed:
				timer.Stop()
				c.drain(batch)
				return
			}
		}
		timer.Stop()
		c.flush(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// drain stores batch and everything still queued.
func (c *completer) drain(batch []finishItem) {
	for {
		select {
		case it := <-c.in:
			batch = append(batch, it)
			if len(batch) == completerMaxBatch {
				c.flush(batch)
				batch = batch[:0]
			}
		default:
			if len(batch) > 0 {
				c.flush(batch)
			}
			return
		}
	}
}

// flush stores one batch of outcomes. A failed Finish call is retried, with a backoff from
// finishRetryMin doubling to finishRetryMax, for as long as the outcomes' leases hold: the jobs
// stay in the held set meanwhile, so the heartbeat keeps extending their leases whenever the
// store answers it, and a store outage shorter than the lease costs no job a second run. An
// outcome whose lease has lapsed by the next attempt is given up: stalled recovery runs its job
// again, which is the at-least-once promise.
func (c *completer) flush(batch []finishItem) {
	w := c.w
	pending := batch
	var errs []error
	var err error
	delay := finishRetryMin
	for attempt := 1; ; attempt++ {
		items := make([]backend.Finish, len(pending))
		for i, it := range pending {
			items[i] = it.fin
		}
		err = w.call(func(ctx context.Context) error {
			var err error
			errs, err = w.b.Finish(ctx, backend.FinishParams{Items: items})
			return err
		})
		if err == nil {
			break
		}
		retryAt := time.Now().Add(delay)
		if w.storeUnusable(err) {
			// No retry can succeed: give every outcome up now.
			retryAt = time.Now().Add(w.cfg.LeaseDuration)
		}
		var keep, lapsed []finishItem
		for _, it := range pending {
			if w.leaseHolds(it.rj, retryAt) {
				keep = append(keep, it)
			} else {
				lapsed = append(lapsed, it)
			}
		}
		if len(lapsed) > 0 {
			w.log.Error("store job outcomes; their leases lapse before the store answers, so the jobs will run again",
				slog.Int("jobs", len(lapsed)), slog.Int("attempts", attempt), slog.Any("error", err))
			for _, it := range lapsed {
				w.forget(it.rj)
				w.emit(WorkerEvent{Kind: WorkerJobFinished, Queue: it.queue, JobID: it.fin.JobID, Outcome: it.fin.Outcome, Err: err})
			}
		}
		if len(keep) == 0 {
			return
		}
		pending = keep
		w.log.Warn("store job outcomes; retrying while their leases hold", slog.Int("jobs", len(pending)), slog.Int("attempt", attempt), slog.Any("error", err))
		time.Sleep(delay)
		delay = min(2*delay, finishRetryMax)
	}
	for i, it := range pending {
		w.forget(it.rj)
		var e error
		if i < len(errs) {
			e = errs[i]
		}
		if e != nil {
			level := slog.LevelError
			if errors.Is(e, asyncmqtype.ErrLeaseLost) {
				level = slog.LevelWarn
			}
			w.log.Log(context.Background(), level, "store job outcome", slog.String("job_id", it.fin.JobID),
				slog.String("task", it.task), slog.String("outcome", string(it.fin.Outcome)), slog.Any("error", e))
		}
		w.emit(WorkerEvent{Kind: WorkerJobFinished, Queue: it.queue, JobID: it.fin.JobID, Outcome: it.fin.Outcome, Err: e})
	}
}

// leaseHolds reports whether the worker still holds rj's lease and it certainly lasts past at.
func (w *Worker) leaseHolds(rj *runningJob, at time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[rj.lease.JobID] == rj && at.Before(rj.leaseUntil)
}
