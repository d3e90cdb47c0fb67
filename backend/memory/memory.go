// Package memory is a process-local asyncmq backend: every job, queue setting, event and audit
// entry lives in the memory of one process and is lost when it exits. Use it in tests, demos and
// single-process tools; use a durable backend when several processes share a store.
//
// It implements every method of backend.Backend and passes the backendtest conformance suite.
// Claims, state changes and listing pages cost O(log n) in the number of stored jobs, and queue
// counts are O(1). A Backend is safe for concurrent use.
package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// DefaultEventLimit is how many lifecycle events a Backend keeps unless WithEventLimit says
// otherwise; older events are dropped first.
const DefaultEventLimit = 100_000

// DefaultAuditLimit is how many audit entries a Backend keeps unless WithAuditLimit says
// otherwise; older entries are dropped first.
const DefaultAuditLimit = 10_000

// Option configures a Backend.
type Option func(*Backend)

// WithEventLimit keeps the newest n lifecycle events (default DefaultEventLimit). A subscriber
// that falls further behind than n events misses the dropped ones. Values below 1 mean 1.
func WithEventLimit(n int) Option {
	return func(b *Backend) { b.events.limit = max(n, 1) }
}

// WithAuditLimit keeps the newest n audit entries (default DefaultAuditLimit). Values below 1
// mean 1.
func WithAuditLimit(n int) Option {
	return func(b *Backend) { b.audit.limit = max(n, 1) }
}

// WithClock sets the clock used when a call passes a zero Now (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(b *Backend) { b.clock = now }
}

// Backend is an in-memory backend.Backend. Create one with New.
type Backend struct {
	// One lock for the whole store keeps every transition atomic, as the contract requires; the
	// work done under it is a few O(log n) index updates.
	mu     sync.Mutex
	closed bool
	clock  func() time.Time

	jobs   map[string]*asyncmqtype.JobInfo
	queues map[string]*queue
	// children maps a parent job ID to the jobs that wait for it to complete.
	children map[string][]string
	unique   map[uniqueKey][]string
	delayed  *tree[*asyncmqtype.JobInfo]
	leases   *tree[*asyncmqtype.JobInfo]

	repeatables map[string]*asyncmqtype.Repeatable
	workers     map[string]*asyncmqtype.WorkerInfo

	events      ring[asyncmqtype.Event]
	lastEventID int64
	metrics     map[metricKey]*asyncmqtype.MetricBucket
	audit       ring[asyncmqtype.AuditEntry]
	lastAuditID int64
}

var _ backend.Backend = (*Backend)(nil)

type uniqueKey struct{ queue, key string }

// New returns an empty Backend.
func New(opts ...Option) *Backend {
	b := &Backend{
		clock:       time.Now,
		jobs:        make(map[string]*asyncmqtype.JobInfo),
		queues:      make(map[string]*queue),
		children:    make(map[string][]string),
		unique:      make(map[uniqueKey][]string),
		delayed:     newTree(byRunAt),
		leases:      newTree(byLease),
		repeatables: make(map[string]*asyncmqtype.Repeatable),
		workers:     make(map[string]*asyncmqtype.WorkerInfo),
		metrics:     make(map[metricKey]*asyncmqtype.MetricBucket),
		events:      ring[asyncmqtype.Event]{limit: DefaultEventLimit},
		audit:       ring[asyncmqtype.AuditEntry]{limit: DefaultAuditLimit},
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// lock takes the store lock for an operation, unless ctx is done or the backend is closed. On
// success the caller must unlock.
func (b *Backend) lock(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", op, asyncmqtype.ErrClosed)
	}
	return nil
}

// timeOr returns t in UTC, or the backend clock when t is zero.
func (b *Backend) timeOr(t time.Time) time.Time {
	if t.IsZero() {
		return b.clock().UTC()
	}
	return t.UTC()
}

// Ping reports whether the backend is open.
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.lock(ctx, "ping memory backend"); err != nil {
		return err
	}
	b.mu.Unlock()
	return nil
}

// Close marks the backend closed; later calls fail with asyncmqtype.ErrClosed. Closing twice is
// allowed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, asyncmqtype.ErrInvalid)...)
}

func validJSON(raw json.RawMessage) bool {
	return len(raw) == 0 || json.Valid(raw)
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func cloneJob(j *asyncmqtype.JobInfo) *asyncmqtype.JobInfo {
	c := *j
	c.Payload = cloneBytes(j.Payload)
	c.Result = cloneBytes(j.Result)
	c.Progress = cloneBytes(j.Progress)
	c.Errors = slices.Clone(j.Errors)
	c.DependsOn = slices.Clone(j.DependsOn)
	return &c
}

func cloneRepeatable(r *asyncmqtype.Repeatable) asyncmqtype.Repeatable {
	c := *r
	c.Payload = cloneBytes(r.Payload)
	return c
}

// truncate shortens s to at most n bytes on a rune boundary, for event details.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
