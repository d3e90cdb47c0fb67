// Package memory is a process-local asyncmq backend: every job, queue setting, event and audit
// entry lives in the memory of one process and is lost when it exits. Use it in tests, demos and
// single-process tools; use a durable backend when several processes share a store.
//
// It implements every method of backend.Store and passes the backendtest conformance suite.
// Claims, state changes and listing pages cost O(log n) in the number of stored jobs, and queue
// counts are O(1). A Backend is safe for concurrent use.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redact"
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

// Backend is an in-memory backend.Store. Create one with New.
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

	events      ring[storedEvent]
	lastEventID int64
	metrics     map[metricKey]*asyncmqtype.MetricBucket
	audit       ring[asyncmqtype.AuditEntry]
	lastAuditID int64

	leaders map[string]backend.Leadership

	// signals wakes the store's idle workers; it has its own lock.
	signals backend.Signals
}

var (
	_ backend.Store    = (*Backend)(nil)
	_ backend.Notifier = (*Backend)(nil)
)

func init() { backend.Register("memory", openURL) }

// openURL opens "memory://": a new, empty store.
func openURL(_ context.Context, url string) (backend.Store, error) {
	if _, rest, _ := strings.Cut(url, "://"); rest != "" {
		return nil, fmt.Errorf("backend URL %q: memory:// takes nothing after the scheme: %w", redact.URL(url), asyncmqtype.ErrInvalid)
	}
	return New(), nil
}

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
		events:      ring[storedEvent]{limit: DefaultEventLimit},
		leaders:     make(map[string]backend.Leadership),
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

// notify wakes the workers waiting for queue.
func (b *Backend) notify(queue string) { b.signals.Notify(queue) }

// Subscribe returns a channel signalled when queue may have runnable jobs; see backend.Notifier.
func (b *Backend) Subscribe(queue string) (<-chan struct{}, func()) {
	return b.signals.Subscribe(queue)
}

// AcrossProcesses is false: a memory store lives in one process.
func (b *Backend) AcrossProcesses() bool { return false }

// CountsLag is 0: counts are kept exactly, under the store lock.
func (b *Backend) CountsLag() time.Duration { return 0 }

// Elect takes or extends the lease on a role; see backend.Elector.
func (b *Backend) Elect(ctx context.Context, p backend.ElectParams) (backend.Leadership, error) {
	if err := p.Validate(); err != nil {
		return backend.Leadership{}, err
	}
	if err := b.lock(ctx, "elect leader of "+p.Name); err != nil {
		return backend.Leadership{}, err
	}
	defer b.mu.Unlock()
	now := b.timeOr(p.Now)
	cur, ok := b.leaders[p.Name]
	if !ok || cur.Holder == p.Holder || cur.Expires.Before(now) {
		cur = backend.Leadership{Holder: p.Holder, Expires: now.Add(p.TTL)}
		b.leaders[p.Name] = cur
	}
	return cur, nil
}

// Resign gives up the lease on a role if p.Holder holds it; see backend.Elector.
func (b *Backend) Resign(ctx context.Context, p backend.ResignParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := b.lock(ctx, "resign leadership of "+p.Name); err != nil {
		return err
	}
	defer b.mu.Unlock()
	if cur, ok := b.leaders[p.Name]; ok && cur.Holder == p.Holder {
		delete(b.leaders, p.Name)
	}
	return nil
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
	if len(j.Headers) > 0 {
		c.Headers = maps.Clone(j.Headers)
	} else {
		c.Headers = nil
	}
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
