// Package backend is the storage seam of asyncmq, for store authors: the interfaces a store
// implements, the Params of every transition, the rules every store applies (the Validate
// methods), and the registry that lets asyncmq.Open find a store by URL scheme. Applications do
// not import it: the types they see live in asyncmqtype, and the stores in backend/memory,
// backend/sqlite and the other subfolders.
//
// Every method takes a context first and, where it has more than one input, a XxxParams struct, so
// a field can be added without breaking callers. Every store must pass the conformance suite in
// backend/backendtest.
package backend

import (
	"context"
	"encoding/json"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Store is everything asyncmq needs of a store: the transactional Core and the interfaces beside
// it. The split says what must be atomic (Core, one transition at a time) and what may be
// eventually consistent (Counter, EventLog, MetricsLog), so a store on the network can serve the
// second group from structures that cost nothing on the hot path.
//
// Every method is safe for concurrent use by several goroutines and, for durable stores, by
// several processes sharing the same store.
//
// Time: a zero Now in any Params means the store's own clock (SQLite and memory read the host's
// clock; a store on a server reads the server's, such as Redis TIME or PostgreSQL now()). The
// worker passes a zero Now for every transition that compares times (claims, lease expiry, due
// jobs, retries), so a worker whose clock is off neither steals leases nor delays jobs. An
// explicit Now is honoured exactly; the conformance suite relies on it. Every time a store returns
// is in UTC.
//
// Rules shared by every method, checked by backend/backendtest:
//   - A context already done makes the call fail with its error and change nothing.
//   - A Limit of 0 means no limit (except where a range is stated); a negative one is ErrInvalid.
//   - Reads of an unknown queue (ListJobs, Repeatables) return nothing; writes to one (Drain,
//     Clean, Obliterate) return ErrQueueNotFound, except the settings (SetQueuePaused,
//     SetRateLimit), which make the queue known.
//   - Returned values are copies: changing them never changes the store.
//   - Inputs are checked with the Validate methods of this package before anything is stored, so
//     every store refuses the same inputs with the same ErrInvalid.
type Store interface {
	Core
	JobAdmin
	Counter
	Scheduler
	WorkerRegistry
	Elector
	EventLog
	MetricsLog
	AuditLog
}

// Core holds the job lifecycle transitions. Each call is atomic: it happens whole or not at all,
// and records its lifecycle Event and metrics counters with it (they may become readable later,
// see EventLog and MetricsLog, but are never lost once the call returned nil).
type Core interface {
	// Enqueue stores jobs all-or-nothing. IDs must be set by the caller (the root package generates
	// time-ordered ones). It returns ErrJobExists for an ID already stored, ErrDuplicateJob for a live
	// unique key, and ErrJobNotFound (wrapped, naming the ID) for a DependsOn parent that does not
	// exist. A job whose parents have all completed is waiting; RunAt after Now makes it delayed.
	//
	// The store sets State and PendingDeps itself and defaults a zero CreatedAt and RunAt to Now.
	// When Enqueue returns nil, it has set State and PendingDeps of each job of p.Jobs to what it
	// stored (waiting, delayed, or waiting-children with PendingDeps the number of parents not
	// completed), so the caller needs no read back; it modifies no other field of them, and none
	// when it fails. Parents may be earlier or later in the same call (a parent in the call counts
	// as not completed). A job with parents that have not completed is waiting-children with
	// PendingDeps > 0 and is not claimable; when its last parent completes it becomes waiting, or delayed when its RunAt is
	// after Now. When a parent fails for good (Finish with OutcomeFailed, RecoverStalled) or is
	// cancelled (by any transition) while a child is waiting-children, the child's
	// OnParentFailure policy applies in the same call: fail (the default; an AttemptError naming
	// the parent), cancel, or wait. A child failed or cancelled that way applies the policy to its
	// own waiting-children children in turn. A retry of a job with pending parents makes it
	// waiting-children again. A parent that is already failed or cancelled when the child is
	// enqueued counts as pending: the child waits for its retry. A unique key is live while
	// its job's UniqueUntil is after Now or, when UniqueUntil is zero, while that job is not
	// terminal; two jobs of one call with the same key and queue conflict. Headers are stored as
	// given, empty ones as nil, and returned by GetJob, full listings and Claim; no transition
	// changes them. EnqueueParams.Validate lists what is ErrInvalid.
	Enqueue(ctx context.Context, p EnqueueParams) error

	// Claim atomically takes up to Limit runnable jobs of one queue for one worker: state waiting,
	// RunAt <= Now, queue not paused, within the queue's rate limit. Jobs
	// are taken by priority (lower first), then RunAt, then ID, and returned in that order. Each
	// claimed job becomes active with a fresh LeaseToken, LeaseExpiresAt = Now+LeaseDuration,
	// Attempts+1, StartedAt, WorkerID.
	//
	// Order is defined within one queue only: a worker serving several queues claims each on its
	// own, and fairness between them is the worker's (it gives each queue its own slots). This keeps
	// every claim inside one queue, which a store can make atomic in one shard (one Redis Cluster
	// slot). A rate limit counts fixed windows: a window opens at the first claim made after the
	// previous window closed and lasts Interval. Delayed jobs are never claimed, even when their
	// RunAt has passed: PromoteDue makes them waiting first.
	Claim(ctx context.Context, p ClaimParams) ([]*asyncmqtype.JobInfo, error)

	// Finish records the outcome of claimed jobs in one round trip. Each outcome is applied only if
	// the job is still active under the same lease token; otherwise its entry in the returned slice
	// is ErrLeaseLost (the slice has one error per outcome, nil on success). The returned error is
	// for failures of the call as a whole.
	//
	// An unknown job also gets ErrLeaseLost; an outcome that Finish.Validate refuses gets
	// ErrInvalid, and the job is unchanged. The store sets Error.Attempt to the job's Attempts and
	// a zero Error.At to Now. A retry with a positive RetryDelay makes the job delayed with RunAt =
	// Now+RetryDelay; otherwise it is waiting at once. Completed, failed and cancelled set
	// FinishedAt. Leaving active clears LeaseToken, LeaseExpiresAt and CancelRequested and keeps
	// WorkerID.
	Finish(ctx context.Context, p FinishParams) ([]error, error)

	// Heartbeat extends the leases a worker holds and refreshes its worker record. It returns the IDs
	// whose lease was lost (no longer active under that token) and the IDs whose cancellation was
	// requested, so the worker can stop those handlers.
	//
	// A lease is lost when its job is gone, not active, or active under another token; lost leases
	// are not extended. The worker record's LastHeartbeat becomes Now; a zero StartedAt keeps the
	// time of the first heartbeat.
	Heartbeat(ctx context.Context, p HeartbeatParams) (HeartbeatResult, error)

	// Release returns active jobs to waiting without counting the attempt (graceful shutdown).
	// Leases no longer held are skipped. A job whose cancellation was requested is cancelled instead.
	Release(ctx context.Context, p ReleaseParams) error

	// SetProgress stores a progress report for an active job under its lease. It returns
	// ErrLeaseLost when the lease is not held and ErrInvalid when Progress is not JSON.
	SetProgress(ctx context.Context, p ProgressParams) error

	// PromoteDue moves delayed jobs whose RunAt <= Now to waiting, earliest RunAt first, at most
	// Limit (0 = all), and returns how many moved.
	PromoteDue(ctx context.Context, p PromoteParams) (int, error)

	// RecoverStalled finds active jobs whose lease expired before Now, increments their Stalls, and
	// re-queues them as waiting, or fails them (with an AttemptError saying so) when Stalls would
	// exceed MaxStalls.
	//
	// A lease expiring exactly at Now is not yet expired. A stalled job keeps the attempt it used;
	// one whose cancellation was requested is cancelled instead of re-queued (and listed in neither
	// result). Limit 0 recovers every expired lease.
	RecoverStalled(ctx context.Context, p RecoverParams) (RecoverResult, error)

	// GetJob returns one job by ID; ErrJobNotFound if unknown.
	GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error)

	// Ping checks that the store answers; it does one cheap round trip.
	Ping(ctx context.Context) error
	// Close releases the store. Calls after Close fail with ErrClosed; Close itself may be called
	// again and returns nil.
	Close() error
}

// JobAdmin holds the administrative reads and writes of jobs and queues: listings, bulk actions,
// queue settings and deletions. Writes are atomic like Core's.
type JobAdmin interface {
	// ListJobs returns one page of a queue's jobs in one state, filtered and sorted in the store.
	// asyncmqtype.ListJobsParams.Validate says what is ErrInvalid; an empty Sort is SortNewest.
	ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error)
	// ApplyJobs performs a bulk action on the jobs named by IDs, or on every job matching Filter when
	// IDs is empty. It returns the number of jobs changed; jobs for which the action does not apply
	// (retrying a completed-and-removed job, promoting a waiting job) are skipped, not errors.
	//
	// Acting by Filter requires Filter.Queue, so an empty filter can never touch every queue.
	// Unknown IDs are skipped. Retry makes the job waiting with RunAt = Now and resets Attempts,
	// Stalls, Result, Progress and FinishedAt, keeping Errors as history. Remove and cancel of an
	// active job set CancelRequested, which counts as a change only the first time. Promote sets
	// RunAt = Now.
	ApplyJobs(ctx context.Context, p asyncmqtype.ApplyParams) (int, error)
	// Clean deletes terminal jobs of a queue in State finished before OlderThan, oldest first, at
	// most Limit (0 = no limit), keeping the newest Keep. It returns the number deleted.
	//
	// "Before" is strict and a zero OlderThan means any age; Keep counts the newest jobs of the
	// state by FinishedAt whatever their age.
	Clean(ctx context.Context, p CleanParams) (int, error)
	// Drain deletes a queue's waiting and waiting-children jobs (and delayed ones when
	// includeDelayed).
	Drain(ctx context.Context, queue string, includeDelayed bool) (int, error)
	// Obliterate deletes a queue: its jobs, settings and repeatables. It refuses with ErrQueueActive
	// while jobs are active unless force is set. Its events and metrics stay, as history.
	Obliterate(ctx context.Context, queue string, force bool) error
	// SetQueuePaused pauses or resumes a queue for every worker of the store.
	SetQueuePaused(ctx context.Context, queue string, paused bool) error
	// SetRateLimit limits the jobs claimed from a queue to Limit per Interval, shared by all workers
	// of the store. Limit 0 removes the limit.
	SetRateLimit(ctx context.Context, p RateLimitParams) error
}

// Counter reports queues with their per-state counts. Counts may lag the truth by at most
// CountsLag, so a store on a server need not update one hot counter row in every transition: it
// may recount periodically instead. Queue settings (paused, rate limit) are never stale.
type Counter interface {
	// Queues lists every known queue (a queue is known once it has a job, a setting or a
	// repeatable) with its per-state counts, sorted by name. A queue stays known until Obliterate,
	// even when it has no jobs left. Counts has an entry for every State.
	Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error)
	// Queue returns one queue; ErrQueueNotFound if unknown.
	Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error)
	// CountsLag is how long after a transition its effect may still be missing from the counts:
	// 0 for a store whose counts are exact.
	CountsLag() time.Duration
}

// Scheduler stores repeatable definitions and fires them exactly once per run.
type Scheduler interface {
	// UpsertRepeatable creates or replaces a repeatable definition (by ID). A zero CreatedAt keeps
	// the replaced definition's, or takes the store clock. ValidateRepeatable says what is
	// ErrInvalid.
	UpsertRepeatable(ctx context.Context, r asyncmqtype.Repeatable) error
	// Repeatables lists the definitions of a queue ("" for all queues), sorted by queue then ID.
	Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error)
	// GetRepeatable returns one definition; ErrRepeatableNotFound if unknown.
	GetRepeatable(ctx context.Context, id string) (asyncmqtype.Repeatable, error)
	// SetRepeatablePaused pauses or resumes a definition; ErrRepeatableNotFound if unknown.
	SetRepeatablePaused(ctx context.Context, id string, paused bool) error
	// RemoveRepeatable deletes a definition; ErrRepeatableNotFound if unknown.
	RemoveRepeatable(ctx context.Context, id string) error
	// DueRepeatables lists unpaused definitions whose NextRun <= now (zero: the store clock),
	// sorted by NextRun then ID.
	DueRepeatables(ctx context.Context, now time.Time) ([]asyncmqtype.Repeatable, error)
	// FireRepeatable atomically enqueues Job and moves the definition's NextRun from Expected to
	// Next. If NextRun is no longer Expected (another worker fired it), it returns ErrConflict and
	// enqueues nothing, so each run is scheduled exactly once, even while two workers both believe
	// they lead.
	//
	// A paused definition also returns ErrConflict. The job's RepeatableID is set to the definition
	// and LastRun to Now. If the job cannot be enqueued, the error is returned and nothing changes.
	FireRepeatable(ctx context.Context, p FireParams) error
}

// WorkerRegistry keeps the records of running workers, refreshed by Core.Heartbeat.
type WorkerRegistry interface {
	// Workers lists registered workers, newest heartbeat first.
	Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error)
	// RemoveWorker deletes a worker record (on clean shutdown); an unknown ID is not an error.
	RemoveWorker(ctx context.Context, id string) error
	// PruneWorkers deletes the records of workers whose last heartbeat is before Before (workers
	// that died without removing themselves) and returns how many went.
	PruneWorkers(ctx context.Context, p PruneWorkersParams) (int, error)
}

// Elector keeps leases on named roles, so one worker of a store runs the maintenance services.
// A lease is a record (Name, Holder, Expires): Elect takes it when it is free or expired (Expires
// before Now; like a job lease, one expiring exactly at Now still holds), extends
// it when the caller already holds it, and otherwise reports who holds it. Work done by a leader
// must stay correct while two workers briefly both believe they lead (a leader whose lease
// expired during a long pause): every maintenance transition is atomic on its own.
type Elector interface {
	// Elect tries to take or extend the lease on p.Name for p.Holder until Now+TTL. It returns the
	// lease as it stands after the call: the caller leads when Leadership.Holder == p.Holder.
	Elect(ctx context.Context, p ElectParams) (Leadership, error)
	// Resign gives the lease up if p.Holder holds it, so another worker can take it at once.
	Resign(ctx context.Context, p ResignParams) error
}

// EventLog is the ordered, resumable log of lifecycle events. A cursor is a string the store
// defines (a number, a Redis Stream ID, ...): readers pass it back and never compare or parse
// it. Reading after a cursor never skips an event and never returns one twice, even while other
// processes write: an event becomes readable no earlier than every event ordered before it.
type EventLog interface {
	// Events returns events after the cursor p.After ("" = from the oldest kept), oldest first, at
	// most Limit. A malformed cursor is ErrInvalid; a cursor older than the oldest kept event
	// reads from the oldest kept.
	Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error)
	// LastEventCursor returns the cursor of the newest event, "" when there is none: reading after
	// it returns only events recorded later.
	LastEventCursor(ctx context.Context) (string, error)
	// RecentEvents returns the newest events, newest first, at most Limit (1..1000), of one queue
	// when Queue is set. It is what a page showing "the latest events" reads, without arithmetic
	// on cursors.
	RecentEvents(ctx context.Context, p asyncmqtype.RecentEventsParams) ([]asyncmqtype.Event, error)
}

// MetricsLog keeps per-minute counters per queue and per task of a queue.
type MetricsLog interface {
	// Metrics returns per-minute counter buckets between Since and Until.
	//
	// A bucket is returned when its Minute is in [Since truncated to the minute, Until] (a zero
	// Until has no bound) and something happened in it; buckets are sorted by Minute then Queue
	// (then Task). Each counter lands in the minute of the Now of the call that caused it.
	//
	// Without ByTask or Task a bucket counts a whole queue and Task is empty. With them a bucket
	// counts one task of a queue, for at most asyncmqtype.MetricTasksLimit (queue, task) pairs
	// (see TopTaskBuckets); summed over tasks, the per-task buckets of a queue and minute equal
	// its per-queue bucket.
	Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error)
}

// AuditLog keeps the record of administrative actions.
type AuditLog interface {
	// AppendAudit stores an audit entry and returns it with its ID and time set. IDs increase; a
	// zero At takes the store clock. ValidateAudit says what is ErrInvalid.
	AppendAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error)
	// Audit lists audit entries, newest (highest ID) first, filtered.
	Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error)
}

// Notifier is the optional wake-up capability of a store: it tells idle workers that a queue may
// have runnable jobs, so they claim at once instead of at the end of a poll interval. Workers
// keep polling as a fallback, so a missed or spurious signal costs latency, never correctness.
//
// Every store that implements it signals within its process (a job enqueued, retried, promoted
// or released through any handle of the process). A store that also signals across processes
// (PostgreSQL LISTEN/NOTIFY, Redis pub/sub, a watched SQLite file) says so with AcrossProcesses.
type Notifier interface {
	// Subscribe returns a channel that receives a value when queue may have runnable jobs, and a
	// function that ends the subscription. Signals are coalesced: the channel has a buffer of one
	// and a signal is dropped when one is already pending.
	Subscribe(queue string) (<-chan struct{}, func())
	// AcrossProcesses reports whether signals also reach subscribers in other processes.
	AcrossProcesses() bool
}

// ClaimLaner is implemented by a store whose claims are bound by their round trip rather than
// by the store's own work (Redis: a claim costs the server a fraction of the time the client
// waits for it). A worker then splits the slots of each queue among ClaimLanes fetchers, each
// claiming for its own slots, so that one claim is in flight while the jobs of another run; the
// queue's concurrency is unchanged. Stores bound by their own writes (SQLite's single writer)
// do not implement it: more, smaller claims would cost them throughput.
type ClaimLaner interface {
	// ClaimLanes returns the number of fetchers per queue, 1 or more.
	ClaimLanes() int
}

// EnqueueParams is the input of Core.Enqueue.
type EnqueueParams struct {
	Jobs []*asyncmqtype.JobInfo
	Now  time.Time
	// FreshIDs says that every job's ID was made for this call by asyncmq.NewID (no caller chose
	// one), so no stored job can hold it: a store may skip looking for one. A store that cannot
	// tell a fresh ID from another must keep its check; a false FreshIDs changes nothing.
	FreshIDs bool
	// Fresh, when not nil, has an entry per job and says of Jobs[i] what FreshIDs says of every
	// job, for a call that mixes IDs asyncmq made with IDs a caller chose; it is set only when
	// FreshIDs is false. A store may ignore it.
	Fresh []bool
}

// ClaimParams is the input of Core.Claim.
type ClaimParams struct {
	Queue         string
	WorkerID      string
	Limit         int
	LeaseDuration time.Duration
	Now           time.Time
}

// Finish is the outcome of one claimed job.
type Finish struct {
	JobID      string
	LeaseToken string
	Outcome    asyncmqtype.Outcome
	Result     json.RawMessage
	// Error is recorded for every outcome but completed.
	Error *asyncmqtype.AttemptError
	// RetryDelay is how long after the call's Now a retried job becomes runnable. It is relative
	// so that the store's clock, not the worker's, decides when the retry is due.
	RetryDelay time.Duration
	// Duration is how long the handler ran, for the metrics counters.
	Duration time.Duration
}

// FinishParams is the input of Core.Finish.
type FinishParams struct {
	Items []Finish
	Now   time.Time
}

// Lease names one claim.
type Lease struct {
	JobID      string
	LeaseToken string
}

// HeartbeatParams is the input of Core.Heartbeat.
type HeartbeatParams struct {
	Worker        asyncmqtype.WorkerInfo
	Leases        []Lease
	LeaseDuration time.Duration
	Now           time.Time
}

// HeartbeatResult is the output of Core.Heartbeat.
type HeartbeatResult struct {
	Lost      []string
	Cancelled []string
}

// ReleaseParams is the input of Core.Release.
type ReleaseParams struct {
	Leases []Lease
	Now    time.Time
}

// ProgressParams is the input of Core.SetProgress.
type ProgressParams struct {
	Lease    Lease
	Progress json.RawMessage
}

// PromoteParams is the input of Core.PromoteDue.
type PromoteParams struct {
	Now time.Time
	// Limit bounds one call, so a backlog of due jobs is promoted in steps that never hold the
	// store for long; 0 promotes every due job.
	Limit int
}

// RecoverParams is the input of Core.RecoverStalled.
type RecoverParams struct {
	Now time.Time
	// MaxStalls is how many lease expiries a job survives; the next one fails it.
	MaxStalls int
	Limit     int
}

// RecoverResult is the output of Core.RecoverStalled.
type RecoverResult struct {
	Requeued []string
	Failed   []string
}

// RateLimitParams is the input of JobAdmin.SetRateLimit.
type RateLimitParams struct {
	Queue    string
	Limit    int
	Interval time.Duration
}

// CleanParams is the input of JobAdmin.Clean.
type CleanParams struct {
	Queue     string
	State     asyncmqtype.State
	OlderThan time.Time
	Limit     int
	Keep      int
}

// FireParams is the input of Scheduler.FireRepeatable.
type FireParams struct {
	ID       string
	Expected time.Time
	Next     time.Time
	Job      *asyncmqtype.JobInfo
	Now      time.Time
	// FreshID says that Job.ID was made for this call by asyncmq.NewID, as EnqueueParams.FreshIDs
	// says of an enqueue's IDs: a store may skip looking for a job that holds it.
	FreshID bool
}

// PruneWorkersParams is the input of WorkerRegistry.PruneWorkers.
type PruneWorkersParams struct {
	// Before is the oldest last heartbeat that is kept.
	Before time.Time
}

// ElectParams is the input of Elector.Elect.
type ElectParams struct {
	// Name is the role ("maintenance").
	Name string
	// Holder identifies the caller (its worker ID).
	Holder string
	// TTL is how long the lease lasts after Now unless it is extended.
	TTL time.Duration
	Now time.Time
}

// Leadership is a lease on a role as it stands.
type Leadership struct {
	Holder  string
	Expires time.Time
}

// ResignParams is the input of Elector.Resign.
type ResignParams struct {
	Name   string
	Holder string
}
