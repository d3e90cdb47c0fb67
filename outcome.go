package asyncmq

import (
	"context"
	"errors"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// AttemptOutcome is the outcome the worker stores for an attempt of job whose handler returned
// err, with ctx the context the handler ran under: completed, cancelled (the job was cancelled
// while it ran), failed (SkipRetry, or the last attempt), else retry. Middleware that measures
// jobs (the otel and asyncmqprom packages) uses it to name the outcome as the store will.
func AttemptOutcome(ctx context.Context, job *Job, err error) asyncmqtype.Outcome {
	switch {
	case err == nil:
		return asyncmqtype.OutcomeCompleted
	case errors.Is(context.Cause(ctx), ErrJobCancelled):
		return asyncmqtype.OutcomeCancelled
	case errors.Is(err, SkipRetry) || job.IsLastAttempt():
		return asyncmqtype.OutcomeFailed
	default:
		return asyncmqtype.OutcomeRetry
	}
}
