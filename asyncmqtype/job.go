package asyncmqtype

import (
	"encoding/json"
	"time"
)

// State is the lifecycle state of a job.
type State string

// The job states. A job is created waiting (or delayed when its run-at is in the future), becomes
// active when a worker claims it, and ends completed, failed or cancelled. A failed attempt with
// retries left moves the job back to delayed until its backoff has passed.
const (
	StateWaiting   State = "waiting"
	StateActive    State = "active"
	StateDelayed   State = "delayed"
	StateCompleted State = "completed"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// States lists every state in display order.
var States = []State{StateWaiting, StateActive, StateDelayed, StateCompleted, StateFailed, StateCancelled}

// NumStates is len(States), as a constant so that stores can size per-state arrays.
const NumStates = 6

// Index returns the position of s in States, or -1 for an unknown state. Stores use it to keep
// per-state counters in arrays.
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
	// CancelRequested is set when an active job is cancelled; the worker running it sees the flag on
	// its next heartbeat and cancels the handler's context.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// RepeatableID names the repeatable definition that created the job, if any.
	RepeatableID string `json:"repeatable_id,omitempty"`
}

// LastError returns the most recent attempt error, or nil.
func (j *JobInfo) LastError() *AttemptError {
	if len(j.Errors) == 0 {
		return nil
	}
	return &j.Errors[len(j.Errors)-1]
}
