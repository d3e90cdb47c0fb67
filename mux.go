package asyncmq

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Middleware wraps a Handler, like net/http middleware: logging, tracing, metrics, recovery.
type Middleware func(Handler) Handler

// ServeMux routes jobs to handlers by task name, like http.ServeMux routes requests by path. A job
// whose task has no handler fails at once, without retries, with an error wrapping ErrUnknownTask
// and SkipRetry. The zero ServeMux is ready to use; it is safe for concurrent use.
type ServeMux struct {
	mu         sync.RWMutex
	handlers   map[string]Handler
	middleware []Middleware
}

// NewServeMux returns an empty ServeMux.
func NewServeMux() *ServeMux { return &ServeMux{} }

// Handle registers h for task. Like http.ServeMux it panics on an invalid task name, a nil
// handler or a second registration of the same task: these are programming errors found at start.
func (m *ServeMux) Handle(task string, h Handler) {
	if err := validateName("task name", task); err != nil {
		panic("asyncmq: ServeMux.Handle: " + err.Error())
	}
	if h == nil {
		panic(fmt.Sprintf("asyncmq: ServeMux.Handle(%q): nil handler", task))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.handlers[task]; dup {
		panic(fmt.Sprintf("asyncmq: ServeMux.Handle(%q): task already registered", task))
	}
	if m.handlers == nil {
		m.handlers = make(map[string]Handler)
	}
	m.handlers[task] = h
}

// HandleFunc registers f for task; see Handle.
func (m *ServeMux) HandleFunc(task string, f func(ctx context.Context, job *Job) error) {
	m.Handle(task, HandlerFunc(f))
}

// Use appends middleware applied to every job the mux routes, including jobs of unknown tasks.
// The first middleware given is the outermost.
func (m *ServeMux) Use(mw ...Middleware) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.middleware = append(m.middleware, mw...)
}

// Tasks returns the registered task names, sorted; KnownTasks(mux.Tasks()...) makes a client
// refuse tasks this mux cannot run.
func (m *ServeMux) Tasks() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.handlers))
	for t := range m.handlers {
		names = append(names, t)
	}
	slices.Sort(names)
	return names
}

// ProcessJob runs the handler registered for job.Task through the middleware.
func (m *ServeMux) ProcessJob(ctx context.Context, job *Job) error {
	m.mu.RLock()
	h, ok := m.handlers[job.Task]
	mw := m.middleware
	m.mu.RUnlock()
	if !ok {
		h = HandlerFunc(func(context.Context, *Job) error {
			return fmt.Errorf("no handler registered for task %q: %w", job.Task, errSkipUnknown)
		})
	}
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h.ProcessJob(ctx, job)
}

// errSkipUnknown matches both ErrUnknownTask and SkipRetry.
var errSkipUnknown = skipUnknownError{}

type skipUnknownError struct{}

func (skipUnknownError) Error() string { return ErrUnknownTask.Error() }

func (skipUnknownError) Is(target error) bool { return target == ErrUnknownTask || target == SkipRetry }

// HandleTyped registers fn for task on mux, decoding each job's payload into a T first. A payload
// that does not decode fails the job at once, without retries; an empty payload gives the zero T.
func HandleTyped[T any](mux *ServeMux, task string, fn func(ctx context.Context, job *Job, args T) error) {
	mux.Handle(task, NewTypedHandler(fn))
}

// NewTypedHandler returns a Handler that decodes the payload into a T and calls fn; see
// HandleTyped.
func NewTypedHandler[T any](fn func(ctx context.Context, job *Job, args T) error) Handler {
	return HandlerFunc(func(ctx context.Context, job *Job) error {
		var args T
		if len(job.Payload) > 0 {
			if err := json.Unmarshal(job.Payload, &args); err != nil {
				return fmt.Errorf("decode payload of task %q into %T: %w: %w", job.Task, args, err, SkipRetry)
			}
		}
		return fn(ctx, job, args)
	})
}
