package asyncmqtype

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is the lifecycle state of a job.
type State string

// The job states. A job is created waiting (or delayed when its run-at is in the future), becomes
// active when a worker claims it, and ends completed, failed or cancelled. A failed attempt with
// retries left moves the job back to delayed until its backoff has passed. A job with parents
// (DependsOn) that have not all completed is created waiting-children instead, and moves to waiting
// (or delayed) when its last parent completes.
const (
	StateWaiting State = "waiting"
	// StateWaitingChildren is a job blocked on parents that have not completed yet: it is not
	// runnable, and its OnParentFailure policy says what happens when a parent fails or is
	// cancelled. (AsyncMQ and BullMQ use the same name for the state.)
	StateWaitingChildren State = "waiting-children"
	StateActive          State = "active"
	StateDelayed         State = "delayed"
	StateCompleted       State = "completed"
	StateFailed          State = "failed"
	StateCancelled       State = "cancelled"
)

// States lists every state in display order.
var States = []State{StateWaiting, StateWaitingChildren, StateActive, StateDelayed, StateCompleted, StateFailed, StateCancelled}

// NumStates is len(States), as a constant so that stores can size per-state arrays.
const NumStates = 7

// Index returns a fixed position of s, in 0..NumStates-1, or -1 for an unknown state. Stores use
// it to keep per-state counters in arrays. Positions are not the display order of States: a state
// added later takes the next free position, so arrays indexed by older positions keep their
// meaning.
func (s State) Index() int {
	switch s {
	case StateWaiting:
		return 0
	case StateActive:
		return 1
	case StateDelayed:
		return 2
	case StateCompleted:
		return 3
	case StateFailed:
		return 4
	case StateCancelled:
		return 5
	case StateWaitingChildren:
		return 6
	}
	return -1
}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Terminal reports whether a job in state s will never run again without an explicit retry.
func (s State) Terminal() bool {
	return s == StateCompleted || s == StateFailed || s == StateCancelled
}

// ParentFailure is what happens to a job in StateWaitingChildren when one of its parents fails
// for good (no retries left) or is cancelled. The zero value means ParentFailureFail.
type ParentFailure string

// The parent-failure policies.
const (
	// ParentFailureFail, the default, fails the job with an error naming the parent. A child whose
	// input never came should surface as failed, where an operator sees it, is alerted on it and can
	// retry it (after retrying the parent), rather than wait silently for a parent that will not
	// complete.
	ParentFailureFail ParentFailure = "fail"
	// ParentFailureCancel cancels the job: for a child that is pointless without its parent and
	// need not draw attention.
	ParentFailureCancel ParentFailure = "cancel"
	// ParentFailureWait keeps the job waiting-children, for instance until an operator retries the
	// parent: when the parent then completes, the job runs.
	ParentFailureWait ParentFailure = "wait"
)

// ParentFailures lists the policies.
var ParentFailures = []ParentFailure{ParentFailureFail, ParentFailureCancel, ParentFailureWait}

// ValidateParentFailure returns an error wrapping ErrInvalid when p is neither empty nor one of
// ParentFailures.
func ValidateParentFailure(p ParentFailure) error {
	switch p {
	case "", ParentFailureFail, ParentFailureCancel, ParentFailureWait:
		return nil
	}
	return fmt.Errorf("unknown parent-failure policy %q (want fail, cancel or wait): %w", p, ErrInvalid)
}

// ParentInfo is one parent a job waits for, as asyncmq.Inspector.Parents reports it.
type ParentInfo struct {
	ID string `json:"id"`
	// State is the parent's state, or empty when the parent no longer exists (it was removed).
	State State `json:"state,omitempty"`
}

// BackoffKind names a retry backoff policy.
type BackoffKind string

// The backoff policies.
const (
	// BackoffExponential waits Base*2^(attempt-1), capped at Max, with up to Jitter of random spread.
	BackoffExponential BackoffKind = "exponential"
	// BackoffFixed waits Base between attempts.
	BackoffFixed BackoffKind = "fixed"
)

// Backoff is how long a job waits before its next attempt after a failure. The zero value means the
// default policy of the root package (exponential, 1s base, 1h cap, jitter).
type Backoff struct {
	Kind BackoffKind   `json:"kind,omitempty"`
	Base time.Duration `json:"base,omitempty"`
	Max  time.Duration `json:"max,omitempty"`
	// Jitter is the fraction (0..1) of the delay that is randomised.
	Jitter float64 `json:"jitter,omitempty"`
}

// AttemptError records one failed attempt of a job.
type AttemptError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
	Stack   string    `json:"stack,omitempty"`
	// Panic is true when the handler panicked rather than returning an error.
	Panic bool `json:"panic,omitempty"`
}

// JobInfo is a stored job, as the store returns it. Times are UTC; a zero time means "not yet".
type JobInfo struct {
	ID    string `json:"id"`
	Queue string `json:"queue"`
	Task  string `json:"task"`
	// Payload is the job's JSON argument, as given at enqueue.
	Payload json.RawMessage `json:"payload,omitempty"`
	State   State           `json:"state"`
	// Priority orders waiting jobs of one queue: lower runs first. Default 5.
	Priority int `json:"priority"`
	// Attempts counts the times a worker has claimed the job.
	Attempts int `json:"attempts"`
	// MaxRetries is how many times a failed job is retried: a job runs at most MaxRetries+1 times.
	MaxRetries int           `json:"max_retries"`
	Backoff    Backoff       `json:"backoff"`
	Timeout    time.Duration `json:"timeout,omitempty"`
	// RunAt is the earliest time the job may run.
	RunAt      time.Time `json:"run_at"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Result is the JSON value a successful handler returned, if any.
	Result json.RawMessage `json:"result,omitempty"`
	// Progress is the last JSON progress report of the running handler, if any.
	Progress json.RawMessage `json:"progress,omitempty"`
	Errors   []AttemptError  `json:"errors,omitempty"`
	WorkerID string          `json:"worker_id,omitempty"`
	// LeaseToken identifies the current claim; a completion that carries another token is rejected.
	LeaseToken     string    `json:"lease_token,omitempty"`
	LeaseExpiresAt time.Time `json:"lease_expires_at,omitzero"`
	// Stalls counts the times the job's lease expired while it was active.
	Stalls int `json:"stalls,omitempty"`
	// UniqueKey, when set, makes enqueue of another job with the same key in the same queue fail
	// with ErrDuplicateJob until UniqueUntil.
	UniqueKey   string    `json:"unique_key,omitempty"`
	UniqueUntil time.Time `json:"unique_until,omitzero"`
	// DependsOn lists the IDs of parent jobs that must complete before this one may run.
	DependsOn []string `json:"depends_on,omitempty"`
	// PendingDeps counts the parents in DependsOn that have not completed yet.
	PendingDeps int `json:"pending_deps,omitempty"`
	// OnParentFailure is what happens to the job while it waits for its parents and one of them
	// fails for good or is cancelled; empty means ParentFailureFail.
	OnParentFailure ParentFailure `json:"on_parent_failure,omitempty"`
	// CancelRequested is set when an active job is cancelled; the worker running it sees the flag on
	// its next heartbeat and cancels the handler's context.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// RepeatableID names the repeatable definition that created the job, if any.
	RepeatableID string `json:"repeatable_id,omitempty"`
	// Headers are string metadata stored with the job at enqueue and handed to its handler on
	// every attempt, such as a trace context; nil when the job has none. Retries and moves keep
	// them. backend.ValidateHeaders lists the limits.
	Headers map[string]string `json:"headers,omitempty"`
}

// LastError returns the most recent attempt error, or nil.
func (j *JobInfo) LastError() *AttemptError {
	if len(j.Errors) == 0 {
		return nil
	}
	return &j.Errors[len(j.Errors)-1]
}
