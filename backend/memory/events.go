package memory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// ring keeps the newest limit values. It grows on demand, so an idle backend with a large limit
// costs nothing.
type ring[T any] struct {
	limit int
	buf   []T
	start int
}

func (r *ring[T]) push(v T) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

func (r *ring[T]) len() int { return len(r.buf) }

// at returns the i-th oldest value.
func (r *ring[T]) at(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

// maxDetail bounds event details: they are meant for a line of a dashboard, not for storage.
const maxDetail = 512

// storedEvent is an event with its sequence number, which its cursor spells in decimal.
type storedEvent struct {
	seq int64
	e   asyncmqtype.Event
}

func (b *Backend) emit(e asyncmqtype.Event) {
	b.lastEventID++
	e.Cursor = strconv.FormatInt(b.lastEventID, 10)
	e.At = e.At.UTC()
	e.Detail = truncate(e.Detail, maxDetail)
	b.events.push(storedEvent{b.lastEventID, e})
	// A job that became waiting, or a queue that resumed, may be claimable now.
	if (e.JobID != "" && e.State == asyncmqtype.StateWaiting) || (e.Type == asyncmqtype.EventQueue && e.Detail == "resumed") {
		b.notify(e.Queue)
	}
}

func (b *Backend) emitJob(t asyncmqtype.EventType, j *asyncmqtype.JobInfo, at time.Time, detail string) {
	b.emit(asyncmqtype.Event{Type: t, Queue: j.Queue, JobID: j.ID, Task: j.Task, State: j.State, At: at, Detail: detail})
}

func (b *Backend) emitQueue(queue, detail string) {
	b.emit(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, At: b.clock(), Detail: detail})
}

// Events returns lifecycle events after the cursor p.After, oldest first. Events older than the newest
// WithEventLimit ones are gone.
func (b *Backend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var after int64
	if p.After != "" {
		n, err := strconv.ParseInt(p.After, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("read events after cursor %q: not a cursor of this store: %w", p.After, asyncmqtype.ErrInvalid)
		}
		after = n
	}
	if err := b.lock(ctx, "read events"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	var out []asyncmqtype.Event
	n := b.events.len()
	if n == 0 {
		return out, nil
	}
	// Sequence numbers are consecutive, so the first event after the cursor is found by
	// arithmetic.
	start := 0
	if first := b.events.at(0).seq; after >= first {
		start = int(min(after-first+1, int64(n)))
	}
	for i := start; i < n && (p.Limit == 0 || len(out) < p.Limit); i++ {
		if se := b.events.at(i); p.Queue == "" || se.e.Queue == p.Queue {
			out = append(out, se.e)
		}
	}
	return out, nil
}

// LastEventCursor returns the cursor of the newest event, "" when there is none.
func (b *Backend) LastEventCursor(ctx context.Context) (string, error) {
	if err := b.lock(ctx, "read last event cursor"); err != nil {
		return "", err
	}
	defer b.mu.Unlock()
	if b.lastEventID == 0 {
		return "", nil
	}
	return strconv.FormatInt(b.lastEventID, 10), nil
}

// RecentEvents returns the newest events, newest first; see backend.EventLog.
func (b *Backend) RecentEvents(ctx context.Context, p asyncmqtype.RecentEventsParams) ([]asyncmqtype.Event, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := b.lock(ctx, "read recent events"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	var out []asyncmqtype.Event
	for i := b.events.len() - 1; i >= 0 && len(out) < p.Limit; i-- {
		if se := b.events.at(i); p.Queue == "" || se.e.Queue == p.Queue {
			out = append(out, se.e)
		}
	}
	return out, nil
}

// metricKey names a bucket: task is empty in the per-queue buckets. Both kinds are kept, each
// counter added to its queue's bucket and its task's, so that a per-queue read (the dashboard
// overview, Prometheus) costs the same whatever the number of task names.
type metricKey struct {
	queue, task string
	minute      int64
}

// count adds counters, by fn, to the per-queue and the per-task bucket of the minute of at.
func (b *Backend) count(queue, task string, at time.Time, fn func(m *asyncmqtype.MetricBucket)) {
	m := at.UTC().Truncate(time.Minute)
	for _, k := range [2]metricKey{{queue, "", m.Unix()}, {queue, task, m.Unix()}} {
		mb := b.metrics[k]
		if mb == nil {
			mb = &asyncmqtype.MetricBucket{Queue: queue, Task: k.task, Minute: m, DurationCounts: make([]int64, len(asyncmqtype.DurationBuckets)+1)}
			b.metrics[k] = mb
		}
		fn(mb)
	}
}

// Metrics returns the per-minute counters; see backend.Store.
func (b *Backend) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if err := b.lock(ctx, "read metrics"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	since := p.Since.UTC().Truncate(time.Minute)
	perTask := p.PerTask()
	var out []asyncmqtype.MetricBucket
	for k, mb := range b.metrics {
		if (k.task != "") != perTask || (p.Queue != "" && mb.Queue != p.Queue) || (p.Task != "" && mb.Task != p.Task) ||
			mb.Minute.Before(since) || (!p.Until.IsZero() && mb.Minute.After(p.Until)) {
			continue
		}
		c := *mb
		c.DurationCounts = slices.Clone(mb.DurationCounts)
		out = append(out, c)
	}
	if perTask {
		return backend.TopTaskBuckets(out, asyncmqtype.MetricTasksLimit), nil
	}
	slices.SortFunc(out, backend.CompareBuckets)
	return out, nil
}
