package backend

import (
	"context"
	"encoding/json"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Backend is the storage seam. Every state transition is atomic, and every method is safe for
// concurrent use by several goroutines and, for durable backends, by several processes sharing the
// same store. Backends record a lifecycle asyncmqtype.Event and update the metrics counters in the same atomic
// step as the transition that causes them.
//
// Times passed in Params (Now) are the caller's clock; a zero Now means the backend's own clock.
// Every time a backend returns is in UTC.
//
// Rules shared by every method, checked by backend/backendtest:
//   - A context already done makes the call fail with its error and change nothing.
//   - A Limit of 0 means no limit (except where a range is stated); a negative one is asyncmqtype.ErrInvalid.
//   - Reads of an unknown queue (ListJobs, Repeatables) return nothing; writes to one (Drain,
//     Clean, Obliterate) return asyncmqtype.ErrQueueNotFound, except the settings (SetQueuePaused,
//     SetRateLimit), which make the queue known.
//   - Returned values are copies: changing them never changes the store.
type Backend interface {
	// Enqueue stores jobs all-or-nothing. IDs must be set by the caller (the root package generates
	// time-ordered ones). It returns asyncmqtype.ErrJobExists for an ID already stored, asyncmqtype.ErrDuplicateJob for a live
	// unique key, and asyncmqtype.ErrJobNotFound (wrapped, naming the ID) for a DependsOn parent that does not
	// exist. A job whose parents have all completed is waiting; RunAt after Now makes it delayed.
	//
	// The backend sets asyncmqtype.State and PendingDeps itself, defaults a zero CreatedAt and RunAt to Now, and
	// does not modify the given jobs. Parents may be earlier or later in the same call. A job with
	// parents that have not completed is waiting (or delayed) with PendingDeps > 0 and is not
	// claimable; a parent that fails or is cancelled leaves it blocked. A unique key is live while
	// its job's UniqueUntil is after Now or, when UniqueUntil is zero, while that job is not
	// terminal; two jobs of one call with the same key and queue conflict. asyncmqtype.ErrInvalid: a nil job,
	// an empty ID, Queue or Task, a negative MaxRetries, a Payload that is not JSON, a job that
	// depends on itself or a dependency cycle within the call.
	Enqueue(ctx context.Context, p EnqueueParams) error

	// Claim atomically takes up to Limit runnable jobs from the named queues for one worker: state
	// waiting, RunAt <= Now, no pending dependencies, queue not paused, within the queue's rate
	// limit. Jobs are taken by priority (lower first), then RunAt, then ID. Each claimed job becomes
	// active with a fresh LeaseToken, LeaseExpiresAt = Now+LeaseDuration, Attempts+1, StartedAt, WorkerID.
	//
	// The order holds across all the named queues together, and the returned jobs are in that
	// order. A rate limit counts fixed windows: a window opens at the first claim made after the
	// previous window closed and lasts Interval. Delayed jobs are never claimed, even when their
	// RunAt has passed: PromoteDue makes them waiting first. asyncmqtype.ErrInvalid: no Queues, Limit < 1,
	// LeaseDuration <= 0.
	Claim(ctx context.Context, p ClaimParams) ([]*asyncmqtype.JobInfo, error)

	// Finish records the outcome of claimed jobs in one round trip. Each outcome is applied only if
	// the job is still active under the same lease token; otherwise its entry in the returned slice
	// is asyncmqtype.ErrLeaseLost (the slice has one error per outcome, nil on success). The returned error is
	// for failures of the call as a whole.
	//
	// An unknown job also gets asyncmqtype.ErrLeaseLost; an unknown Outcome or a Result that is not JSON gets
	// asyncmqtype.ErrInvalid, and the job is unchanged. The backend sets Error.Attempt to the job's Attempts and
	// a zero Error.At to Now. A retry whose RetryAt is after Now makes the job delayed with RunAt =
	// RetryAt; otherwise it is waiting at once. Completed, failed and cancelled set FinishedAt.
	// Leaving active clears LeaseToken, LeaseExpiresAt and CancelRequested and keeps WorkerID.
	Finish(ctx context.Context, p FinishParams) ([]error, error)

	// Heartbeat extends the leases a worker holds and refreshes its worker record. It returns the IDs
	// whose lease was lost (no longer active under that token) and the IDs whose cancellation was
	// requested, so the worker can stop those handlers.
	//
	// A lease is lost when its job is gone, not active, or active under another token; lost leases
	// are not extended. The worker record's LastHeartbeat becomes Now; a zero StartedAt keeps the
	// time of the first heartbeat. asyncmqtype.ErrInvalid: an empty Worker.ID, or leases with LeaseDuration <= 0.
	Heartbeat(ctx context.Context, p HeartbeatParams) (HeartbeatResult, error)

	// Release returns active jobs to waiting without counting the attempt (graceful shutdown).
	// Leases no longer held are skipped. A job whose cancellation was requested is cancelled instead.
	Release(ctx context.Context, p ReleaseParams) error

	// SetProgress stores a progress report for an active job under its lease. It returns
	// asyncmqtype.ErrLeaseLost when the lease is not held and asyncmqtype.ErrInvalid when Progress is not JSON.
	SetProgress(ctx context.Context, p ProgressParams) error

	// PromoteDue moves delayed jobs whose RunAt <= Now to waiting and returns how many moved.
	PromoteDue(ctx context.Context, now time.Time) (int, error)

	// RecoverStalled finds active jobs whose lease expired before Now, increments their Stalls, and
	// re-queues them as waiting, or fails them (with an asyncmqtype.AttemptError saying so) when Stalls would
	// exceed MaxStalls.
	//
	// A lease expiring exactly at Now is not yet expired. A stalled job keeps the attempt it used;
	// one whose cancellation was requested is cancelled instead of re-queued (and listed in neither
	// result). Limit 0 recovers every expired lease.
	RecoverStalled(ctx context.Context, p RecoverParams) (RecoverResult, error)

	// Queues lists every known queue (a queue is known once it has a job, a setting or a
	// repeatable) with its per-state counts, sorted by name. A queue stays known until Obliterate,
	// even when it has no jobs left. Counts has an entry for every asyncmqtype.State.
	Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error)
	// Queue returns one queue; asyncmqtype.ErrQueueNotFound if unknown.
	Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error)
	// SetQueuePaused pauses or resumes a queue for every worker of the store.
	SetQueuePaused(ctx context.Context, queue string, paused bool) error
	// SetRateLimit limits the jobs claimed from a queue to Limit per Interval, shared by all workers
	// of the store. Limit 0 removes the limit.
	SetRateLimit(ctx context.Context, p RateLimitParams) error

	// GetJob returns one job by ID; asyncmqtype.ErrJobNotFound if unknown.
	GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error)
	// ListJobs returns one page of a queue's jobs in one state, filtered and sorted in the store.
	// Filter.Queue and a valid Filter.State are required; an empty asyncmqtype.Sort is asyncmqtype.SortNewest. asyncmqtype.ErrInvalid:
	// a missing queue or state, an unknown asyncmqtype.Sort, a Limit outside 1..1000, a negative Offset.
	ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error)
	// ApplyJobs performs a bulk action on the jobs named by IDs, or on every job matching Filter when
	// IDs is empty. It returns the number of jobs changed; jobs for which the action does not apply
	// (retrying a completed-and-removed job, promoting a waiting job) are skipped, not errors.
	//
	// Acting by Filter requires Filter.Queue (asyncmqtype.ErrInvalid otherwise), so an empty filter can never
	// touch every queue. Unknown IDs are skipped. Retry makes the job waiting with RunAt = Now and
	// resets Attempts, Stalls, Result, Progress and FinishedAt, keeping Errors as history. Remove
	// and cancel of an active job set CancelRequested, which counts as a change only the first
	// time. Promote sets RunAt = Now. asyncmqtype.ErrInvalid: an unknown asyncmqtype.Action or Filter.State.
	ApplyJobs(ctx context.Context, p asyncmqtype.ApplyParams) (int, error)
	// Clean deletes terminal jobs of a queue in asyncmqtype.State finished before OlderThan, oldest first, at
	// most Limit (0 = no limit), keeping the newest Keep. It returns the number deleted.
	//
	// "Before" is strict and a zero OlderThan means any age; Keep counts the newest jobs of the
	// state by FinishedAt whatever their age. asyncmqtype.ErrInvalid: a asyncmqtype.State that is not terminal, a negative
	// Limit or Keep.
	Clean(ctx context.Context, p CleanParams) (int, error)
	// Drain deletes a queue's waiting jobs (and delayed ones when IncludeDelayed).
	Drain(ctx context.Context, queue string, includeDelayed bool) (int, error)
	// Obliterate deletes a queue: its jobs, settings and repeatables. It refuses with asyncmqtype.ErrQueueActive
	// while jobs are active unless force is set. Its events and metrics stay, as history.
	Obliterate(ctx context.Context, queue string, force bool) error

	// UpsertRepeatable creates or replaces a repeatable definition (by ID). A zero CreatedAt keeps
	// the replaced definition's, or takes the backend clock. asyncmqtype.ErrInvalid: an empty ID, Queue or Task,
	// neither a Cron nor a positive Interval, a Payload that is not JSON.
	UpsertRepeatable(ctx context.Context, r asyncmqtype.Repeatable) error
	// Repeatables lists the definitions of a queue ("" for all queues), sorted by queue then ID.
	Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error)
	// GetRepeatable returns one definition; asyncmqtype.ErrRepeatableNotFound if unknown.
	GetRepeatable(ctx context.Context, id string) (asyncmqtype.Repeatable, error)
	// SetRepeatablePaused pauses or resumes a definition; asyncmqtype.ErrRepeatableNotFound if unknown.
	SetRepeatablePaused(ctx context.Context, id string, paused bool) error
	// RemoveRepeatable deletes a definition; asyncmqtype.ErrRepeatableNotFound if unknown.
	RemoveRepeatable(ctx context.Context, id string) error
	// DueRepeatables lists unpaused definitions whose NextRun <= now, sorted by NextRun then ID.
	DueRepeatables(ctx context.Context, now time.Time) ([]asyncmqtype.Repeatable, error)
	// FireRepeatable atomically enqueues asyncmqtype.JobInfo and moves the definition's NextRun from Expected to
	// Next. If NextRun is no longer Expected (another worker fired it), it returns asyncmqtype.ErrConflict and
	// enqueues nothing, so each run is scheduled exactly once.
	//
	// A paused definition also returns asyncmqtype.ErrConflict. The job's RepeatableID is set to the definition
	// and LastRun to Now. If the job cannot be enqueued, the error is returned and nothing changes.
	FireRepeatable(ctx context.Context, p FireParams) error

	// Workers lists registered workers, newest heartbeat first.
	Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error)
	// RemoveWorker deletes a worker record (on clean shutdown); an unknown ID is not an error.
	RemoveWorker(ctx context.Context, id string) error

	// Events returns lifecycle events with ID > AfterID, oldest first, at most Limit.
	Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error)
	// LastEventID returns the ID of the newest event, 0 when there is none.
	LastEventID(ctx context.Context) (int64, error)
	// Metrics returns per-minute counter buckets between Since and Until.
	//
	// A bucket is returned when its Minute is in [Since truncated to the minute, Until] (a zero
	// Until has no bound) and something happened in it; buckets are sorted by Minute then Queue.
	// Each counter lands in the minute of the Now of the call that caused it.
	Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error)

	// AppendAudit stores an audit entry and returns it with its ID and time set. IDs increase; a
	// zero At takes the backend clock. asyncmqtype.ErrInvalid: an empty asyncmqtype.Action, a Status other than "success",
	// "failed" or "denied".
	AppendAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error)
	// Audit lists audit entries, newest (highest ID) first, filtered.
	Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error)

	// Ping checks that the store answers; it does one cheap round trip.
	Ping(ctx context.Context) error
	// Close releases the store. Calls after Close fail with asyncmqtype.ErrClosed; Close itself may be called
	// again and returns nil.
	Close() error
}

// EnqueueParams is the input of Backend.Enqueue.
type EnqueueParams struct {
	Jobs []*asyncmqtype.JobInfo
	Now  time.Time
}

// ClaimParams is the input of Backend.Claim.
type ClaimParams struct {
	Queues        []string
	WorkerID      string
	Limit         int
	LeaseDuration time.Duration
	Now           time.Time
}

// Outcome is how an attempt ended.
type Outcome string

// The outcomes a worker reports.
const (
	// OutcomeCompleted: the handler succeeded; Result is stored.
	OutcomeCompleted Outcome = "completed"
	// OutcomeRetry: the handler failed and the job runs again at RetryAt (state delayed).
	OutcomeRetry Outcome = "retry"
	// OutcomeFailed: the handler failed for the last time (state failed).
	OutcomeFailed Outcome = "failed"
	// OutcomeCancelled: the job was cancelled while it ran (state cancelled).
	OutcomeCancelled Outcome = "cancelled"
)

// Finish is the outcome of one claimed job.
type Finish struct {
	JobID      string
	LeaseToken string
	Outcome    Outcome
	Result     json.RawMessage
	// Error is recorded for every outcome but completed.
	Error   *asyncmqtype.AttemptError
	RetryAt time.Time
	// Duration is how long the handler ran, for the metrics counters.
	Duration time.Duration
}

// FinishParams is the input of Backend.Finish.
type FinishParams struct {
	Items []Finish
	Now   time.Time
}

// Lease names one claim.
type Lease struct {
	JobID      string
	LeaseToken string
}

// HeartbeatParams is the input of Backend.Heartbeat.
type HeartbeatParams struct {
	Worker        asyncmqtype.WorkerInfo
	Leases        []Lease
	LeaseDuration time.Duration
	Now           time.Time
}

// HeartbeatResult is the output of Backend.Heartbeat.
type HeartbeatResult struct {
	Lost      []string
	Cancelled []string
}

// ReleaseParams is the input of Backend.Release.
type ReleaseParams struct {
	Leases []Lease
	Now    time.Time
}

// ProgressParams is the input of Backend.SetProgress.
type ProgressParams struct {
	Lease    Lease
	Progress json.RawMessage
}

// RecoverParams is the input of Backend.RecoverStalled.
type RecoverParams struct {
	Now time.Time
	// MaxStalls is how many lease expiries a job survives; the next one fails it.
	MaxStalls int
	Limit     int
}

// RecoverResult is the output of Backend.RecoverStalled.
type RecoverResult struct {
	Requeued []string
	Failed   []string
}

// RateLimitParams is the input of Backend.SetRateLimit.
type RateLimitParams struct {
	Queue    string
	Limit    int
	Interval time.Duration
}

// CleanParams is the input of Backend.Clean.
type CleanParams struct {
	Queue     string
	State     asyncmqtype.State
	OlderThan time.Time
	Limit     int
	Keep      int
}

// FireParams is the input of Backend.FireRepeatable.
type FireParams struct {
	ID       string
	Expected time.Time
	Next     time.Time
	Job      *asyncmqtype.JobInfo
	Now      time.Time
}
