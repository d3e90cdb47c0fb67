package postgres_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// A call large enough for COPY stores every field of its jobs, reports their states, and records
// one job:enqueued event per job with the job's own queue, task and state, whether the batch
// shares them or not.
func TestEnqueueManyThroughCopy(t *testing.T) {
	t.Parallel()
	b := open(t, freshSchema(t))
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)

	uniform := make([]*asyncmqtype.JobInfo, 600)
	for i := range uniform {
		uniform[i] = &asyncmqtype.JobInfo{ID: fmt.Sprintf("u%03d", i), Queue: "bulk-a", Task: "t", Payload: []byte(`{"n":1}`)}
	}
	mixed := make([]*asyncmqtype.JobInfo, 600)
	for i := range mixed {
		j := &asyncmqtype.JobInfo{ID: fmt.Sprintf("m%03d", i), Queue: fmt.Sprintf("bulk-%d", i%2), Task: fmt.Sprintf("t%d", i%3),
			Priority: i % 5, MaxRetries: 7, Timeout: time.Duration(i) * time.Second, RepeatableID: "r",
			Backoff:   asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Base: time.Second, Max: time.Minute, Jitter: 0.25},
			CreatedAt: now.Add(-time.Hour)}
		if i%4 == 0 {
			j.RunAt = now.Add(time.Hour)
		}
		if i%2 == 0 {
			j.Payload = []byte(`{"i":` + fmt.Sprint(i) + `}`)
		}
		mixed[i] = j
	}
	for _, batch := range [][]*asyncmqtype.JobInfo{uniform, mixed} {
		if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: batch, Now: now}); err != nil {
			t.Fatalf("enqueue %d jobs: %v", len(batch), err)
		}
	}

	got, err := b.GetJob(ctx, "m004")
	if err != nil {
		t.Fatal(err)
	}
	want := mixed[4]
	if got.Queue != want.Queue || got.Task != want.Task || string(got.Payload) != `{"i": 4}` || got.Priority != want.Priority ||
		got.MaxRetries != 7 || got.Timeout != want.Timeout || got.RepeatableID != "r" || got.Backoff != want.Backoff ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.RunAt.Equal(want.RunAt) || got.State != asyncmqtype.StateDelayed {
		t.Errorf("stored job m004 = %+v, want the fields of %+v, delayed", got, want)
	}
	if got, err := b.GetJob(ctx, "m001"); err != nil || got.Payload != nil || got.State != asyncmqtype.StateWaiting || !got.RunAt.Equal(now) {
		t.Errorf("stored job m001 = %+v, %v; want no payload, waiting, run at the enqueue's time", got, err)
	}
	for i, j := range mixed {
		wantState := asyncmqtype.StateWaiting
		if i%4 == 0 {
			wantState = asyncmqtype.StateDelayed
		}
		if j.State != wantState {
			t.Fatalf("reported state of %s = %s, want %s", j.ID, j.State, wantState)
		}
	}

	events, err := b.Events(ctx, asyncmqtype.EventsParams{Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(uniform)+len(mixed) {
		t.Fatalf("%d events, want %d", len(events), len(uniform)+len(mixed))
	}
	for i, e := range events {
		j := append(uniform[:len(uniform):len(uniform)], mixed...)[i]
		if e.Type != asyncmqtype.EventEnqueued || e.JobID != j.ID || e.Queue != j.Queue || e.Task != j.Task || e.State != j.State {
			t.Fatalf("event %d = %+v, want job:enqueued of %s in %s, task %s, %s", i, e, j.ID, j.Queue, j.Task, j.State)
		}
	}
}

// A call through COPY is all or nothing: one taken ID fails it with ErrJobExists and stores none
// of its jobs, and the store goes on working.
func TestEnqueueManyThroughCopyAtomic(t *testing.T) {
	t.Parallel()
	b := open(t, freshSchema(t))
	ctx := t.Context()
	batch := func(prefix string, n int) []*asyncmqtype.JobInfo {
		jobs := make([]*asyncmqtype.JobInfo, n)
		for i := range jobs {
			jobs[i] = &asyncmqtype.JobInfo{ID: fmt.Sprintf("%s%03d", prefix, i), Queue: "bulk", Task: "t"}
		}
		return jobs
	}
	if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: batch("a", 600)}); err != nil {
		t.Fatal(err)
	}
	clash := append(batch("b", 599), &asyncmqtype.JobInfo{ID: "a123", Queue: "bulk", Task: "t"})
	// Several times, so that every connection of the pool has had a failed COPY.
	for range 6 {
		if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: clash}); !errors.Is(err, asyncmqtype.ErrJobExists) {
			t.Fatalf("enqueue with a taken ID: %v, want ErrJobExists", err)
		}
	}
	if _, err := b.GetJob(ctx, "b000"); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
		t.Fatalf("GetJob(b000) after the failed enqueue: %v, want ErrJobNotFound", err)
	}
	if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: batch("b", 600)}); err != nil {
		t.Fatalf("enqueue after the failure: %v", err)
	}
	q, err := b.Queue(ctx, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	if n := q.Counts[asyncmqtype.StateWaiting]; n != 1200 {
		t.Fatalf("%d waiting jobs, want 1200", n)
	}
	events, err := b.Events(ctx, asyncmqtype.EventsParams{Limit: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1200 {
		t.Fatalf("%d events, want 1200 (none of the failed calls)", len(events))
	}
}
