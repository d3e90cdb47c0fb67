package asyncmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Bounds on what an attempt error stores, so one runaway error message cannot bloat the store.
const (
	maxErrorBytes = 8 << 10
	maxStackBytes = 32 << 10
)

// start runs one claimed job in its own goroutine.
func (w *Worker) start(f *fetcher, j *asyncmqtype.JobInfo, claimStart time.Time) {
	ctx, rj := w.track(j, f.queue, claimStart)
	w.jobs.Add(1)
	go func() {
		defer w.jobs.Done()
		defer f.done()
		w.execute(ctx, rj, j)
	}()
}

// execute runs the handler for j and hands its outcome to the completer.
func (w *Worker) execute(ctx context.Context, rj *runningJob, j *asyncmqtype.JobInfo) {
	job := newJob(j, w.b, w.cfg.MaxResultBytes)
	if j.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, j.Timeout, fmt.Errorf("%w after %s", ErrJobTimeout, j.Timeout))
		defer cancel()
	}
	w.emit(WorkerEvent{Kind: WorkerJobStarted, Queue: j.Queue, JobID: j.ID})

	began := time.Now()
	stack, herr := w.invoke(ctx, job)
	took := time.Since(began)
	cause := context.Cause(ctx)
	rj.cancel(context.Canceled) // release the context's resources; the cause was read above

	switch {
	case errors.Is(cause, ErrLeaseLost):
		// Another worker may own the job now; whatever this run did, it must not be recorded.
		w.forget(rj)
		w.log.Warn("job lost its lease while running; result discarded", slog.String("job_id", j.ID), slog.String("task", j.Task))
		w.emit(WorkerEvent{Kind: WorkerJobAbandoned, Queue: j.Queue, JobID: j.ID, Err: cause})
		return
	case herr != nil && errors.Is(cause, ErrWorkerShutdown):
		// Stays held: the shutdown releases it without counting the attempt.
		w.emit(WorkerEvent{Kind: WorkerJobAbandoned, Queue: j.Queue, JobID: j.ID, Err: cause})
		return
	}
	fin := w.outcome(j, job, herr, stack, cause, took)
	w.completer.add(finishItem{fin: fin, rj: rj, queue: j.Queue, task: j.Task})
}

// invoke calls the handler, turning a panic into an error with the stack.
func (w *Worker) invoke(ctx context.Context, job *Job) (stack string, err error) {
	defer func() {
		if r := recover(); r != nil {
			stack = string(debug.Stack())
			err = &panicError{value: r}
		}
	}()
	return "", w.h.ProcessJob(ctx, job)
}

type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// outcome decides what becomes of a job after an attempt.
func (w *Worker) outcome(j *asyncmqtype.JobInfo, job *Job, herr error, stack string, cause error, took time.Duration) backend.Finish {
	fin := backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Duration: took}
	if herr == nil {
		fin.Outcome = asyncmqtype.OutcomeCompleted
		fin.Result = job.Result()
		return fin
	}
	msg := herr.Error()
	for _, c := range []error{ErrJobTimeout, ErrJobCancelled} {
		// Say why the context ended, unless the handler's error already does.
		if errors.Is(cause, c) && !errors.Is(herr, c) {
			msg = cause.Error() + ": " + msg
		}
	}
	var pe *panicError
	panicked := errors.As(herr, &pe)
	fin.Error = &asyncmqtype.AttemptError{
		Attempt: j.Attempts,
		Error:   truncate(msg, maxErrorBytes),
		Stack:   truncate(stack, maxStackBytes),
		Panic:   panicked,
	}
	level, logMsg := slog.LevelInfo, ""
	switch {
	case errors.Is(cause, ErrJobCancelled):
		fin.Outcome = asyncmqtype.OutcomeCancelled
		logMsg = "job cancelled while running"
	case errors.Is(herr, SkipRetry) || j.Attempts > j.MaxRetries:
		fin.Outcome = asyncmqtype.OutcomeFailed
		level, logMsg = slog.LevelWarn, "job failed"
	default:
		fin.Outcome = asyncmqtype.OutcomeRetry
		fin.RetryDelay = retryDelay(j.Backoff, j.Attempts)
		logMsg = "job attempt failed; will retry"
	}
	if panicked {
		level, logMsg = slog.LevelError, "job handler panicked"
	}
	if w.log.Enabled(context.Background(), level) {
		w.log.Log(context.Background(), level, logMsg, slog.String("job_id", j.ID), slog.String("queue", j.Queue),
			slog.String("task", j.Task), slog.Int("attempt", j.Attempts), slog.String("outcome", string(fin.Outcome)),
			slog.String("error", fin.Error.Error))
	}
	return fin
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "... (truncated)"
}
