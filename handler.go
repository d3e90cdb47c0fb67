package asyncmq

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// A Handler processes jobs. ProcessJob returns nil when the job succeeded; an error fails the
// attempt, which is retried with backoff while retries are left unless the error wraps SkipRetry.
// A panic fails the attempt like an error and is recorded with its stack.
//
// ctx is cancelled when the job is cancelled, when it exceeds its Timeout, when the worker loses
// its lease, and when the worker's shutdown grace period ends; context.Cause(ctx) tells which
// (ErrJobCancelled, ErrJobTimeout, ErrLeaseLost, ErrWorkerShutdown). Jobs are delivered at least
// once, so handlers should be idempotent.
type Handler interface {
	ProcessJob(ctx context.Context, job *Job) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, job *Job) error

// ProcessJob calls f(ctx, job).
func (f HandlerFunc) ProcessJob(ctx context.Context, job *Job) error { return f(ctx, job) }

// Job is a handler's view of the job it runs.
type Job struct {
	ID    string
	Queue string
	Task  string
	// Payload is the JSON payload given at enqueue; empty when there was none.
	Payload json.RawMessage
	// Attempt is the number of this run, from 1.
	Attempt int
	// MaxRetries is how many retries the job has in all: the last attempt is MaxRetries+1.
	MaxRetries int
	Priority   int
	// CreatedAt is when the job was enqueued.
	CreatedAt time.Time
	// RunAt is the earliest time this attempt could start (CreatedAt, or later for a delayed
	// or retried job); the time from RunAt to the start is the job's wait.
	RunAt time.Time
	// RepeatableID names the schedule that created the job, if any.
	RepeatableID string

	headers map[string]string
	lease   backend.Lease
	b       Store
	limit   int
	mu      sync.Mutex
	result  json.RawMessage
}

// newJob returns the handler's view of a claimed job.
func newJob(j *asyncmqtype.JobInfo, b Store, limit int) *Job {
	return &Job{
		ID:           j.ID,
		Queue:        j.Queue,
		Task:         j.Task,
		Payload:      j.Payload,
		Attempt:      j.Attempts,
		MaxRetries:   j.MaxRetries,
		Priority:     j.Priority,
		CreatedAt:    j.CreatedAt,
		RunAt:        j.RunAt,
		RepeatableID: j.RepeatableID,
		headers:      j.Headers,
		lease:        backend.Lease{JobID: j.ID, LeaseToken: j.LeaseToken},
		b:            b,
		limit:        limit,
	}
}

// NewTestJob returns a Job for calling a Handler directly in a unit test. SetResult works on it;
// ReportProgress returns an error, as it needs a worker.
//
// opts are Enqueue's options, applied as Enqueue would: Queue, JobID, Priority, MaxRetries,
// RunAt or Delay and Headers set the job's fields, so a handler that reads job.Header("tenant")
// can be tested with NewTestJob("t", nil, Headers(map[string]string{"tenant": "acme"})). The
// options only a store acts on (UniqueKey, DependsOn, Backoff, Timeout, ...) are checked but
// change nothing. NewTestJob panics on an invalid option or task name, as a test setup error.
func NewTestJob(task string, payload json.RawMessage, opts ...EnqueueOption) *Job {
	now := time.Now().UTC()
	j := &Job{ID: NewID(), Queue: DefaultQueue, Task: task, Payload: payload, Attempt: 1,
		MaxRetries: DefaultMaxRetries, Priority: DefaultPriority, CreatedAt: now, RunAt: now, limit: DefaultMaxPayloadBytes}
	if len(opts) == 0 {
		return j
	}
	info := new(asyncmqtype.JobInfo)
	_, err := (&Client{maxPayload: DefaultMaxPayloadBytes}).build(info, task, nil, opts, now, nil)
	if err != nil {
		panic(fmt.Sprintf("asyncmq.NewTestJob: %v", err))
	}
	j.ID, j.Queue, j.Priority, j.MaxRetries, j.RunAt = info.ID, info.Queue, info.Priority, info.MaxRetries, info.RunAt
	j.headers = info.Headers
	return j
}

// Headers returns a copy of the headers stored with the job at enqueue (the Headers option, and
// the client's HeadersFromContext), or nil when it has none.
func (j *Job) Headers() map[string]string {
	if len(j.headers) == 0 {
		return nil
	}
	return maps.Clone(j.headers)
}

// Header returns the value of the job's header key, or "" when it has none. Names are
// case-sensitive.
func (j *Job) Header(key string) string { return j.headers[key] }

// IsLastAttempt reports whether a failure of this attempt fails the job for good.
func (j *Job) IsLastAttempt() bool { return j.Attempt > j.MaxRetries }

// SetResult records v, encoded as JSON like a payload, as the job's result; it is stored when the
// handler returns nil. Call it before ProcessJob returns; a later call replaces the earlier result.
func (j *Job) SetResult(v any) error {
	raw, err := encodePayload(v, j.limit)
	if err != nil {
		return fmt.Errorf("set result of job %q: %w", j.ID, err)
	}
	j.mu.Lock()
	j.result = raw
	j.mu.Unlock()
	return nil
}

// Result returns the JSON recorded by SetResult, or nil.
func (j *Job) Result() json.RawMessage {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result
}

// ReportProgress stores v, encoded as JSON, as the job's progress, which the dashboard and
// Inspector.Job show while it runs. It fails with an error wrapping ErrLeaseLost if the worker no
// longer holds the job.
func (j *Job) ReportProgress(ctx context.Context, v any) error {
	if j.b == nil {
		return fmt.Errorf("report progress of job %q: the job is not run by a worker", j.ID)
	}
	raw, err := encodePayload(v, j.limit)
	if err != nil {
		return fmt.Errorf("report progress of job %q: %w", j.ID, err)
	}
	if err := j.b.SetProgress(ctx, backend.ProgressParams{Lease: j.lease, Progress: raw}); err != nil {
		return fmt.Errorf("report progress of job %q: %w", j.ID, err)
	}
	return nil
}
