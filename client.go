package asyncmq

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Client enqueues jobs. It is safe for concurrent use; make one per backend and share it.
type Client struct {
	b          Store
	maxPayload int
	known      map[string]bool
	now        func() time.Time
	headerFns  []func(ctx context.Context) map[string]string
}

// A ClientOption configures a Client.
type ClientOption func(*Client)

// MaxPayloadBytes limits the JSON size of a job's payload; a larger payload is refused with an
// error wrapping ErrPayloadTooLarge. Default DefaultMaxPayloadBytes (1 MiB); 0 or less disables
// the limit.
func MaxPayloadBytes(n int) ClientOption {
	return func(c *Client) { c.maxPayload = n }
}

// KnownTasks makes the client refuse, with an error wrapping ErrUnknownTask, any task name not
// listed. Without it any name is accepted, because producers need not know which handlers the
// workers have. A producer in the same process as its workers can pass mux.Tasks()...
func KnownTasks(tasks ...string) ClientOption {
	return func(c *Client) {
		if c.known == nil {
			c.known = make(map[string]bool, len(tasks))
		}
		for _, t := range tasks {
			c.known[t] = true
		}
	}
}

// HeadersFromContext makes the client call f with the context of every Enqueue and EnqueueMany
// and store the headers it returns with each job, so that middleware can carry something of the
// producer's context to the handler; asyncmqotel uses it for the trace context. A job's own
// Headers option wins over f for a header both set; with several HeadersFromContext options, a
// later one wins over an earlier. f may return nil.
func HeadersFromContext(f func(ctx context.Context) map[string]string) ClientOption {
	return func(c *Client) {
		if f != nil {
			c.headerFns = append(c.headerFns, f)
		}
	}
}

// NewClient returns a Client that enqueues into b.
func NewClient(b Store, opts ...ClientOption) *Client {
	c := &Client{b: b, maxPayload: DefaultMaxPayloadBytes, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Request is one job of an EnqueueMany call.
type Request struct {
	Task    string
	Payload any
	Options []EnqueueOption
}

// Enqueue stores one job of the named task and returns it as stored. The payload is encoded as
// JSON: a json.RawMessage or []byte is used as is (it must be valid JSON), nil means no payload,
// anything else goes through json.Marshal. Without options the job runs as soon as a worker of
// DefaultQueue is free, with DefaultPriority, DefaultMaxRetries and the default backoff.
//
// Errors wrap ErrDuplicateJob (Unique), ErrJobExists (JobID), ErrPayloadTooLarge,
// ErrUnknownTask (KnownTasks), asyncmqtype.ErrJobNotFound (a DependsOn parent is missing) or
// asyncmqtype.ErrInvalid (a malformed option).
func (c *Client) Enqueue(ctx context.Context, task string, payload any, opts ...EnqueueOption) (*asyncmqtype.JobInfo, error) {
	now := c.now()
	one := new(oneJob)
	j := &one.job
	fresh, err := c.build(j, task, payload, opts, now, c.contextHeaders(ctx))
	if err != nil {
		return nil, fmt.Errorf("enqueue job of task %q: %w", task, err)
	}
	one.list[0] = j
	if err := c.b.Enqueue(ctx, backend.EnqueueParams{Jobs: one.list[:], Now: now, FreshIDs: fresh}); err != nil {
		return nil, fmt.Errorf("enqueue job %q of task %q: %w", j.ID, task, err)
	}
	return j, nil
}

// oneJob is the job of an Enqueue call and the one-job list the store is given, allocated
// together: the call is the hot path of a producer.
type oneJob struct {
	job  asyncmqtype.JobInfo
	list [1]*asyncmqtype.JobInfo
}

// EnqueueMany stores several jobs in one backend call: either all are stored or none is. A job may
// depend on a job enqueued earlier in the same call. It returns the jobs in request order; they
// are allocated together, so a caller that keeps one of them keeps the memory of all.
func (c *Client) EnqueueMany(ctx context.Context, reqs []Request) ([]*asyncmqtype.JobInfo, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	now := c.now()
	fromCtx := c.contextHeaders(ctx)
	jobs := make([]*asyncmqtype.JobInfo, len(reqs))
	infos := make([]asyncmqtype.JobInfo, len(reqs))
	var each []bool // which IDs build made, once a request chose its own
	for i, r := range reqs {
		freshID, err := c.build(&infos[i], r.Task, r.Payload, r.Options, now, fromCtx)
		if err != nil {
			return nil, fmt.Errorf("enqueue %d jobs: job %d of task %q: %w", len(reqs), i, r.Task, err)
		}
		if !freshID && each == nil {
			each = make([]bool, len(reqs))
			for k := range i {
				each[k] = true
			}
		}
		if each != nil {
			each[i] = freshID
		}
		jobs[i] = &infos[i]
	}
	p := backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: each == nil}
	if slices.Contains(each, true) {
		// A call mixing IDs build made with chosen ones: the store may skip its checks for the
		// former.
		p.Fresh = each
	}
	if err := c.b.Enqueue(ctx, p); err != nil {
		return nil, fmt.Errorf("enqueue %d jobs: %w", len(reqs), err)
	}
	return jobs, nil
}

// contextHeaders returns the headers the HeadersFromContext functions give for ctx, nil when none.
func (c *Client) contextHeaders(ctx context.Context) map[string]string {
	var out map[string]string
	for _, f := range c.headerFns {
		h := f(ctx)
		if len(h) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(h))
		}
		maps.Copy(out, h)
	}
	return out
}

// optionsPool keeps jobOptions between calls: applying an option through a function value
// makes them escape, which cost an allocation per job.
var optionsPool = sync.Pool{New: func() any { return new(jobOptions) }}

// build validates one request and turns it into the job to store, in j; fromCtx are the headers
// of HeadersFromContext, which the request's own Headers options override. It reports whether
// the job's ID is one build made.
func (c *Client) build(j *asyncmqtype.JobInfo, task string, payload any, opts []EnqueueOption, now time.Time, fromCtx map[string]string) (bool, error) {
	if err := validateName("task name", task); err != nil {
		return false, err
	}
	if c.known != nil && !c.known[task] {
		return false, fmt.Errorf("task %q is not one of the client's KnownTasks (%s): %w", task, c.knownList(), ErrUnknownTask)
	}
	o := optionsPool.Get().(*jobOptions)
	defer func() {
		*o = jobOptions{}
		optionsPool.Put(o)
	}()
	*o = jobOptions{queue: DefaultQueue, priority: DefaultPriority, maxRetries: DefaultMaxRetries}
	if len(fromCtx) > 0 {
		o.headers = maps.Clone(fromCtx)
	}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	if o.err != nil {
		return false, o.err
	}
	if err := validateName("queue name", o.queue); err != nil {
		return false, err
	}
	if err := backend.ValidateHeaders(o.headers); err != nil {
		return false, fmt.Errorf("Headers: %w", err)
	}
	raw, err := encodePayload(payload, c.maxPayload)
	if err != nil {
		return false, err
	}

	*j = asyncmqtype.JobInfo{
		ID:         o.id,
		Queue:      o.queue,
		Task:       task,
		Payload:    raw,
		State:      asyncmqtype.StateWaiting,
		Priority:   o.priority,
		MaxRetries: o.maxRetries,
		Backoff:    o.backoff,
		Timeout:    o.timeout,
		RunAt:      now,
		CreatedAt:  now,
		DependsOn:  uniqueIDs(o.dependsOn),
	}
	j.OnParentFailure = o.onParent
	j.Headers = o.headers
	if j.ID == "" {
		j.ID = NewID()
	}
	switch {
	case !o.runAt.IsZero():
		j.RunAt = o.runAt.UTC()
	case o.delay > 0:
		j.RunAt = now.Add(o.delay)
	}
	if j.RunAt.After(now) {
		j.State = asyncmqtype.StateDelayed
	}
	if len(j.DependsOn) > 0 {
		j.State, j.PendingDeps = asyncmqtype.StateWaitingChildren, len(j.DependsOn)
	}
	if o.uniqueKey != "" {
		j.UniqueKey = o.uniqueKey
		j.UniqueUntil = now.Add(o.uniqueTTL)
	}
	if slices.Contains(j.DependsOn, j.ID) {
		return false, fmt.Errorf("job %q depends on itself: %w", j.ID, asyncmqtype.ErrInvalid)
	}
	return o.id == "", nil
}

func (c *Client) knownList() string {
	names := make([]string, 0, len(c.known))
	for t := range c.known {
		names = append(names, fmt.Sprintf("%q", t))
	}
	slices.Sort(names)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return strings.Join(names, ", ")
}

// uniqueIDs returns ids without repeats, in first-seen order, so a parent named twice is waited
// for once.
func uniqueIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
