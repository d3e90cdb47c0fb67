package asyncmqtype

import (
	"encoding/json"
	"time"
)

// WorkerInfo describes a running worker process.
type WorkerInfo struct {
	ID            string    `json:"id"`
	Hostname      string    `json:"hostname"`
	PID           int       `json:"pid"`
	Queues        []string  `json:"queues"`
	Concurrency   int       `json:"concurrency"`
	StartedAt     time.Time `json:"started_at"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// Active is the number of jobs the worker holds.
	Active int `json:"active"`
}

// QueueInfo describes a queue.
type QueueInfo struct {
	Name   string        `json:"name"`
	Paused bool          `json:"paused"`
	Counts map[State]int `json:"counts"`
	// RateLimit and RateInterval are the queue's shared rate limit; 0 means none.
	RateLimit    int           `json:"rate_limit,omitempty"`
	RateInterval time.Duration `json:"rate_interval,omitempty"`
}

// Total returns the number of jobs in the queue.
func (q QueueInfo) Total() int {
	n := 0
	for _, c := range q.Counts {
		n += c
	}
	return n
}

// Sort orders job listings.
type Sort string

// The sort orders. Newest/oldest compare CreatedAt then ID.
const (
	SortNewest Sort = "newest"
	SortOldest Sort = "oldest"
)

// JobFilter selects jobs of one queue.
type JobFilter struct {
	Queue string
	// State is required for listings; for ApplyJobs an empty State means every state.
	State State
	// Task is a case-insensitive substring of the task name.
	Task string
	// ID is a substring of the job ID (case-sensitive).
	ID string
	// Text is a case-insensitive substring of the payload JSON. Every filter matches literally:
	// "%" and "_" are not wildcards.
	Text string
}

// ListJobsParams is the input of ListJobs.
type ListJobsParams struct {
	Filter JobFilter
	Sort   Sort
	Offset int
	// Limit is the page size (1..1000).
	Limit int
	// Brief asks only for what a listing shows: each job's ID, Queue, Task, State, Priority,
	// Attempts, MaxRetries, CreatedAt, RunAt, Payload and Errors. A store may leave the other
	// fields zero, which spares it reading them; it may also fill them.
	Brief bool
}

// JobPage is one page of a listing.
type JobPage struct {
	Jobs []*JobInfo
	// Total is the number of jobs matching the filter.
	Total int
}

// Action is a bulk job action.
type Action string

// The job actions.
const (
	// ActionRetry moves failed, cancelled or completed jobs back to waiting (attempts reset to 0),
	// or to waiting-children when parents they depend on have not completed.
	ActionRetry Action = "retry"
	// ActionRemove deletes non-active jobs; active jobs are cancelled instead.
	ActionRemove Action = "remove"
	// ActionCancel cancels waiting, waiting-children and delayed jobs at once, and requests
	// cancellation of active ones.
	ActionCancel Action = "cancel"
	// ActionPromote makes delayed jobs run now.
	ActionPromote Action = "promote"
)

// ApplyParams is the input of ApplyJobs.
type ApplyParams struct {
	Action Action
	// IDs, when non-empty, names the jobs; Filter.Queue, if set, must match them.
	IDs    []string
	Filter JobFilter
	Now    time.Time
}

// Repeatable is a stored schedule that enqueues a job every Interval or on a Cron expression.
type Repeatable struct {
	ID    string `json:"id"`
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Payload is the JSON payload of every job it creates.
	Payload  json.RawMessage `json:"payload,omitempty"`
	Cron     string          `json:"cron,omitempty"`
	Interval time.Duration   `json:"interval,omitempty"`
	// Options for the jobs it creates.
	Priority   int       `json:"priority"`
	MaxRetries int       `json:"max_retries"`
	Paused     bool      `json:"paused"`
	NextRun    time.Time `json:"next_run"`
	LastRun    time.Time `json:"last_run,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

// EventType names a lifecycle event.
type EventType string

// The lifecycle events. Each transition records one event whose State is the job's new state:
//   - Enqueue and FireRepeatable: enqueued (waiting or delayed).
//   - PromoteDue, promote, retry by ApplyJobs and Release: enqueued (waiting), with Detail
//     "promoted", "retried" or "released".
//   - Claim: started. Finish: completed, retrying (delayed or waiting), failed or cancelled; the
//     error message is the Detail.
//   - RecoverStalled: stalled (waiting), failed or cancelled.
//   - Cancel of a waiting, waiting-children or delayed job: cancelled. Cancel or remove of an
//     active job: cancelled with State active and Detail "cancel requested".
//   - A parent failing or cancelled: failed or cancelled for each waiting-children job its
//     OnParentFailure policy fails or cancels, with a Detail naming the parent.
//   - Remove: removed, with the state the job had. SetProgress: progress.
//   - Pause, resume, drain, clean and obliterate: queue:changed (drain and clean only when they
//     deleted something), with Detail "paused", "resumed", "drained", "cleaned" or "obliterated".
const (
	EventEnqueued  EventType = "job:enqueued"
	EventStarted   EventType = "job:started"
	EventCompleted EventType = "job:completed"
	EventRetrying  EventType = "job:retrying"
	EventFailed    EventType = "job:failed"
	EventCancelled EventType = "job:cancelled"
	EventStalled   EventType = "job:stalled"
	EventRemoved   EventType = "job:removed"
	EventProgress  EventType = "job:progress"
	// EventQueue is emitted when a queue is paused, resumed, drained, cleaned or obliterated.
	EventQueue EventType = "queue:changed"
)

// Event is one lifecycle event. Its Cursor is the store's opaque position of the event in the
// log: a subscriber resumes by reading after the last cursor it saw, and never compares or parses
// cursors.
type Event struct {
	Cursor string    `json:"cursor"`
	Type   EventType `json:"type"`
	Queue  string    `json:"queue"`
	JobID  string    `json:"job_id,omitempty"`
	Task   string    `json:"task,omitempty"`
	State  State     `json:"state,omitempty"`
	At     time.Time `json:"at"`
	// Detail is a short human text (an error message, "paused").
	Detail string `json:"detail,omitempty"`
}

// EventsParams selects events to read.
type EventsParams struct {
	// After is the cursor of the last event already seen; "" reads from the oldest kept.
	After string
	Limit int
	// Queue filters to one queue when set.
	Queue string
}

// Outcome is how an attempt ended.
type Outcome string

// The outcomes a worker reports.
const (
	// OutcomeCompleted: the handler succeeded; Result is stored.
	OutcomeCompleted Outcome = "completed"
	// OutcomeRetry: the handler failed and the job runs again after RetryDelay (state delayed).
	OutcomeRetry Outcome = "retry"
	// OutcomeFailed: the handler failed for the last time (state failed).
	OutcomeFailed Outcome = "failed"
	// OutcomeCancelled: the job was cancelled while it ran (state cancelled).
	OutcomeCancelled Outcome = "cancelled"
)

// RecentEventsParams selects the newest events.
type RecentEventsParams struct {
	// Limit is how many (1..1000).
	Limit int
	// Queue filters to one queue when set.
	Queue string
}

// MetricBucket is one minute of counters for one queue, or for one task of one queue when read
// with MetricsParams.ByTask.
type MetricBucket struct {
	Queue string `json:"queue"`
	// Task is the task name the counters are for; empty in per-queue buckets.
	Task      string    `json:"task,omitempty"`
	Minute    time.Time `json:"minute"`
	Completed int64     `json:"completed"`
	Failed    int64     `json:"failed"`
	Retried   int64     `json:"retried"`
	// DurationSum is the summed handler run time of completed and failed attempts (retried and
	// cancelled attempts are not included). Failed also counts jobs failed by RecoverStalled.
	DurationSum time.Duration `json:"duration_sum"`
	// DurationCounts is the histogram of the run times DurationSum adds up: DurationCounts[i]
	// counts the attempts that took at most DurationBuckets[i] and longer than the bound before
	// it, and the last element those longer than every bound. Counts are per bucket, not
	// cumulative. Stores return len(DurationBuckets)+1 elements; jobs failed by
	// RecoverStalled have no run time and are not counted.
	DurationCounts []int64 `json:"duration_counts"`
	// WaitSum is the summed enqueue-to-start latency of started attempts; Started counts them.
	// The latency of one attempt is the claim's Now minus the job's RunAt, so time spent delayed
	// on purpose is not counted as waiting.
	WaitSum time.Duration `json:"wait_sum"`
	Started int64         `json:"started"`
}

// DurationBuckets are the upper bounds, inclusive and in increasing order, of the run time
// histogram in MetricBucket.DurationCounts; a last bucket without a bound follows them. Stores
// store the counts per bucket, so the bounds are fixed: changing them would mix old counts into
// the wrong buckets.
var DurationBuckets = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
	30 * time.Second, time.Minute,
}

// DurationBucket returns the index in MetricBucket.DurationCounts of the bucket that counts a
// run time of d: the first bound d does not exceed, or len(DurationBuckets) past the last one.
func DurationBucket(d time.Duration) int {
	for i, bound := range DurationBuckets {
		if d <= bound {
			return i
		}
	}
	return len(DurationBuckets)
}

// MetricsParams is the input of Metrics.
type MetricsParams struct {
	// Queue filters to one queue when set.
	Queue string
	// Task filters to one task name when set; it implies ByTask.
	Task  string
	Since time.Time
	Until time.Time
	// ByTask returns one bucket per queue, task and minute instead of one per queue and minute.
	// A store returns the buckets of at most MetricTasksLimit (queue, task) pairs: those with
	// the most attempts (Started+Completed+Failed+Retried) over the selected minutes, ties by
	// queue then task name. The default (false) returns per-queue buckets, Task empty.
	ByTask bool
}

// MetricTasksLimit is how many (queue, task) pairs a ByTask read of MetricsParams returns at
// most, so that a queue with many task names costs a bounded answer. Stores still write one
// per-task bucket per task name and minute that counted something: task names are meant to be
// the handler names, a small set; a name per job (an ID in the name) would grow the metrics by
// a bucket per job until retention removes them.
const MetricTasksLimit = 100

// PerTask reports whether a read returns per-task buckets: ByTask or Task is set.
func (p MetricsParams) PerTask() bool { return p.ByTask || p.Task != "" }

// AuditEntry is one recorded administrative action.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Status is "success", "failed" or "denied".
	Status string `json:"status"`
	Queue  string `json:"queue,omitempty"`
	JobID  string `json:"job_id,omitempty"`
	Source string `json:"source,omitempty"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

// AuditParams is the input of Audit.
type AuditParams struct {
	Action string
	Status string
	Queue  string
	Actor  string
	// Text is a case-insensitive substring of action, actor, queue, job, detail or error.
	Text   string
	Limit  int
	Offset int
}
