package asyncmq

import (
	"errors"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// ErrDuplicateJob is returned (wrapped) by Enqueue when another job of the queue holds the same
// live Unique key. It is asyncmqtype.ErrDuplicateJob, so either name works with errors.Is.
var ErrDuplicateJob = asyncmqtype.ErrDuplicateJob

// ErrJobExists is returned (wrapped) by Enqueue when a job with the given JobID is already
// stored. It is asyncmqtype.ErrJobExists.
var ErrJobExists = asyncmqtype.ErrJobExists

// ErrPayloadTooLarge is returned (wrapped, with the size and the limit) when a payload or a
// result is larger than the client's limit (MaxPayloadBytes, default 1 MiB).
var ErrPayloadTooLarge = errors.New("payload too large")

// ErrUnknownTask is returned (wrapped) by a Client configured with KnownTasks for a task it does
// not know, and recorded on a job that a worker's ServeMux has no handler for.
var ErrUnknownTask = errors.New("unknown task")

// SkipRetry, wrapped in a handler's error (fmt.Errorf("charge card: %w", asyncmq.SkipRetry)),
// fails the job at once without using its remaining retries.
//
//lint:ignore ST1012 the name reads as an instruction at the call site, as in asynq.
var SkipRetry = errors.New("skip retry")

// The causes a worker gives when it cancels a handler's context; read them with context.Cause.
var (
	// ErrJobCancelled: the job was cancelled (Inspector.CancelJob) while it ran.
	ErrJobCancelled = errors.New("job cancelled")
	// ErrJobTimeout: the job ran longer than its Timeout.
	ErrJobTimeout = errors.New("job timed out")
	// ErrLeaseLost: the worker lost its claim on the job (its lease expired and another worker may
	// be running it); the outcome of this run is discarded.
	ErrLeaseLost = asyncmqtype.ErrLeaseLost
	// ErrWorkerShutdown: the worker is shutting down and its grace period ended; the job is
	// released for another worker without counting the attempt.
	ErrWorkerShutdown = errors.New("worker shutting down")
)
