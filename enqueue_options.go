package asyncmq

import (
	"fmt"
	"maps"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Defaults applied to a job when Enqueue is given no option for them.
const (
	// DefaultQueue is the queue a job goes to without the Queue option.
	DefaultQueue = "default"
	// DefaultPriority is a job's priority without the Priority option; lower runs first.
	DefaultPriority = 5
	// DefaultMaxRetries is how many times a failed job is retried without the MaxRetries option.
	DefaultMaxRetries = 3
)

// An EnqueueOption configures one job at Enqueue: Queue("emails"), Delay(time.Minute),
// MaxRetries(10). Later options override earlier ones.
type EnqueueOption func(*jobOptions)

// jobOptions collects the options of one job. err keeps the first invalid option so Enqueue can
// report it with the task name.
type jobOptions struct {
	queue      string
	runAt      time.Time
	delay      time.Duration
	priority   int
	maxRetries int
	backoff    asyncmqtype.Backoff
	timeout    time.Duration
	id         string
	uniqueKey  string
	uniqueTTL  time.Duration
	dependsOn  []string
	onParent   asyncmqtype.ParentFailure
	headers    map[string]string
	err        error
}

func (o *jobOptions) fail(format string, args ...any) {
	if o.err == nil {
		o.err = fmt.Errorf(format+": %w", append(args, asyncmqtype.ErrInvalid)...)
	}
}

// Queue puts the job on the named queue. Default DefaultQueue ("default").
func Queue(name string) EnqueueOption {
	return func(o *jobOptions) { o.queue = name }
}

// Delay makes the job run no earlier than d from now. It replaces an earlier RunAt.
func Delay(d time.Duration) EnqueueOption {
	return func(o *jobOptions) {
		if d < 0 {
			o.fail("Delay(%s): must not be negative", d)
		}
		o.delay, o.runAt = d, time.Time{}
	}
}

// RunAt makes the job run no earlier than t; a time in the past runs it at once. It replaces an
// earlier Delay.
func RunAt(t time.Time) EnqueueOption {
	return func(o *jobOptions) { o.runAt, o.delay = t, 0 }
}

// Priority orders the job among the runnable jobs of its queue: lower runs first. Default
// DefaultPriority (5); p must lie in asyncmqtype.MinPriority..MaxPriority (±1,000,000).
func Priority(p int) EnqueueOption {
	return func(o *jobOptions) {
		if err := asyncmqtype.ValidatePriority(p); err != nil && o.err == nil {
			o.err = fmt.Errorf("Priority(%d): %w", p, err)
		}
		o.priority = p
	}
}

// MaxRetries is how many times the job is retried after a failed attempt, so it runs at most n+1
// times. 0 disables retries. Default DefaultMaxRetries (3).
func MaxRetries(n int) EnqueueOption {
	return func(o *jobOptions) {
		if n < 0 {
			o.fail("MaxRetries(%d): must not be negative", n)
		}
		o.maxRetries = n
	}
}

// Backoff sets the job's retry backoff policy. The zero Backoff means the default: exponential
// from 1s, capped at 1h, with 20% jitter. See ExponentialBackoff and FixedBackoff for the common
// cases.
func Backoff(b asyncmqtype.Backoff) EnqueueOption {
	return func(o *jobOptions) {
		if err := validateBackoff(b); err != nil {
			o.fail("Backoff: %v", err)
		}
		o.backoff = b
	}
}

// ExponentialBackoff waits base, 2*base, 4*base... between attempts, capped at max (0 means 1h),
// with 20% jitter so that jobs failing together do not retry together.
func ExponentialBackoff(base, max time.Duration) EnqueueOption {
	return Backoff(asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Base: base, Max: max, Jitter: DefaultBackoffJitter})
}

// FixedBackoff waits d between attempts.
func FixedBackoff(d time.Duration) EnqueueOption {
	return Backoff(asyncmqtype.Backoff{Kind: asyncmqtype.BackoffFixed, Base: d})
}

// Timeout cancels the handler's context when an attempt runs longer than d; the attempt then
// fails (and is retried if retries are left). 0, the default, means no timeout.
func Timeout(d time.Duration) EnqueueOption {
	return func(o *jobOptions) {
		if d < 0 {
			o.fail("Timeout(%s): must not be negative", d)
		}
		o.timeout = d
	}
}

// JobID gives the job a caller-chosen ID instead of a generated one: non-empty, at most
// MaxIDLength bytes, printable, no whitespace. Enqueue fails with ErrJobExists if the ID is taken,
// which makes it an idempotency key.
func JobID(id string) EnqueueOption {
	return func(o *jobOptions) {
		if err := validateName("job ID", id); err != nil && o.err == nil {
			o.err = err
		}
		o.id = id
	}
}

// Unique refuses to enqueue the job (with an error wrapping ErrDuplicateJob) while another job of
// the same queue holds key and was enqueued less than ttl ago.
func Unique(key string, ttl time.Duration) EnqueueOption {
	return func(o *jobOptions) {
		if key == "" {
			o.fail("Unique: key is empty")
		}
		if ttl <= 0 {
			o.fail("Unique(%q, %s): ttl must be positive", key, ttl)
		}
		o.uniqueKey, o.uniqueTTL = key, ttl
	}
}

// DependsOn makes the job wait until every job named by ids has completed. The parents must
// exist (or be enqueued in the same EnqueueMany call, before the child). Until then the job is in
// state waiting-children; OnParentFailure says what happens if a parent fails or is cancelled.
func DependsOn(ids ...string) EnqueueOption {
	return func(o *jobOptions) {
		for _, id := range ids {
			if err := validateName("DependsOn job ID", id); err != nil && o.err == nil {
				o.err = err
			}
		}
		o.dependsOn = append(o.dependsOn, ids...)
	}
}

// OnParentFailure says what happens to a job enqueued with DependsOn when one of its parents fails
// for good (no retries left) or is cancelled while the job waits for it: ParentFailureFail (the
// default) fails the job with an error naming the parent, ParentFailureCancel cancels it, and
// ParentFailureWait keeps it waiting until the parent is retried and completes. Failing and
// cancelling cascade to the job's own children, by their own policies. Any other policy makes
// Enqueue fail with an error wrapping asyncmqtype.ErrInvalid.
func OnParentFailure(p asyncmqtype.ParentFailure) EnqueueOption {
	return func(o *jobOptions) {
		if err := asyncmqtype.ValidateParentFailure(p); err != nil && o.err == nil {
			o.err = fmt.Errorf("OnParentFailure: %w", err)
		}
		o.onParent = p
	}
}

// Headers stores h with the job, for its handler to read with Job.Headers and Job.Header: string
// metadata such as a trace context or a tenant, apart from the payload. Several Headers options
// add up, a later value replacing an earlier one of the same name, and they replace what a
// client's HeadersFromContext gives. backend.ValidateHeaders lists the limits (32 headers, names
// of letters, digits, '-', '_' and '.', 16 KiB in all); headers beyond them make Enqueue fail with
// an error wrapping asyncmqtype.ErrInvalid. Default none.
func Headers(h map[string]string) EnqueueOption {
	return func(o *jobOptions) {
		if len(h) == 0 {
			return
		}
		if o.headers == nil {
			o.headers = make(map[string]string, len(h))
		}
		maps.Copy(o.headers, h)
	}
}
