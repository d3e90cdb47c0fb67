package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
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

func (b *Backend) emit(e asyncmqtype.Event) {
	b.lastEventID++
	e.ID = b.lastEventID
	e.At = e.At.UTC()
	e.Detail = truncate(e.Detail, maxDetail)
	b.events.push(e)
}

func (b *Backend) emitJob(t asyncmqtype.EventType, j *asyncmqtype.JobInfo, at time.Time, detail string) {
	b.emit(asyncmqtype.Event{Type: t, Queue: j.Queue, JobID: j.ID, Task: j.Task, State: j.State, At: at, Detail: detail})
}

func (b *Backend) emitQueue(queue, detail string) {
	b.emit(asyncmqtype.Event{Type: asyncmqtype.EventQueue, Queue: queue, At: b.clock(), Detail: detail})
}

// Events returns lifecycle events after p.AfterID, oldest first. Events older than the newest
// WithEventLimit ones are gone.
func (b *Backend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if p.Limit < 0 {
		return nil, invalid("read events: negative limit %d", p.Limit)
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
	// IDs are consecutive, so the first event after AfterID is found by arithmetic.
	start := 0
	if first := b.events.at(0).ID; p.AfterID >= first {
		start = int(min(p.AfterID-first+1, int64(n)))
	}
	for i := start; i < n && (p.Limit == 0 || len(out) < p.Limit); i++ {
		if e := b.events.at(i); p.Queue == "" || e.Queue == p.Queue {
			out = append(out, e)
		}
	}
	return out, nil
}

// LastEventID returns the ID of the newest event, 0 when there is none.
func (b *Backend) LastEventID(ctx context.Context) (int64, error) {
	if err := b.lock(ctx, "read last event id"); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	return b.lastEventID, nil
}

type metricKey struct {
	queue  string
	minute int64
}

// bucket returns the metrics bucket of a queue for the minute of at.
func (b *Backend) bucket(queue string, at time.Time) *asyncmqtype.MetricBucket {
	m := at.UTC().Truncate(time.Minute)
	k := metricKey{queue, m.Unix()}
	if mb := b.metrics[k]; mb != nil {
		return mb
	}
	mb := &asyncmqtype.MetricBucket{Queue: queue, Minute: m, DurationCounts: make([]int64, len(asyncmqtype.DurationBuckets)+1)}
	b.metrics[k] = mb
	return mb
}

// Metrics returns the per-minute counters; see backend.Backend.
func (b *Backend) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if err := b.lock(ctx, "read metrics"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	since := p.Since.UTC().Truncate(time.Minute)
	var out []asyncmqtype.MetricBucket
	for _, mb := range b.metrics {
		if (p.Queue != "" && mb.Queue != p.Queue) || mb.Minute.Before(since) || (!p.Until.IsZero() && mb.Minute.After(p.Until)) {
			continue
		}
		c := *mb
		c.DurationCounts = slices.Clone(mb.DurationCounts)
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y asyncmqtype.MetricBucket) int {
		return cmp.Or(x.Minute.Compare(y.Minute), strings.Compare(x.Queue, y.Queue))
	})
	return out, nil
}
