package asyncmqtype

import "errors"

// Typed errors every store returns (wrapped with context; test with errors.Is).
var (
	// ErrJobNotFound: no job has that ID.
	ErrJobNotFound = errors.New("job not found")
	// ErrJobExists: a job with that ID is already stored.
	ErrJobExists = errors.New("job ID already exists")
	// ErrDuplicateJob: another job of the queue holds the same live unique key.
	ErrDuplicateJob = errors.New("duplicate job: unique key in use")
	// ErrLeaseLost: the job is no longer active under the given lease token.
	ErrLeaseLost = errors.New("job lease lost")
	// ErrQueueNotFound: no queue has that name.
	ErrQueueNotFound = errors.New("queue not found")
	// ErrQueueActive: the queue has active jobs and the operation needs force.
	ErrQueueActive = errors.New("queue has active jobs")
	// ErrRepeatableNotFound: no repeatable has that ID.
	ErrRepeatableNotFound = errors.New("repeatable not found")
	// ErrConflict: a compare-and-set lost to a concurrent writer.
	ErrConflict = errors.New("concurrent update conflict")
	// ErrInvalid: the input was malformed (an unknown state, a negative limit).
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrStoreUnusable: the store can no longer be used safely, and retrying will not help: a
	// SQLite file that was deleted or replaced after it was opened, or one whose pages are
	// damaged. A worker that meets it stops, and Worker.Run returns it; reopen the store (after
	// restoring or repairing the file) to carry on.
	ErrStoreUnusable = errors.New("store unusable")
)
