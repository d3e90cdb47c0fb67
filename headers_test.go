package asyncmq

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

type tenantKey struct{}

// TestHeadersReachTheHandler enqueues with the Headers option and a client's HeadersFromContext
// and checks what the store keeps and what the handler reads on every attempt.
func TestHeadersReachTheHandler(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.client = NewClient(tb.b,
		HeadersFromContext(func(ctx context.Context) map[string]string {
			if v, ok := ctx.Value(tenantKey{}).(string); ok {
				return map[string]string{"tenant": v, "source": "context"}
			}
			return nil
		}),
		HeadersFromContext(func(context.Context) map[string]string { return nil }),
	)
	type seen struct {
		attempt int
		headers map[string]string
		tenant  string
	}
	got := make(chan seen, 4)
	tb.mux.HandleFunc("report", func(ctx context.Context, job *Job) error {
		h := job.Headers()
		got <- seen{job.Attempt, maps.Clone(h), job.Header("tenant")}
		h["tenant"] = "changed by the handler" // a copy: the next attempt must not see it
		if job.Attempt == 1 {
			return errors.New("first attempt fails")
		}
		return nil
	})
	ctx := context.WithValue(t.Context(), tenantKey{}, "acme")
	j, err := tb.client.Enqueue(ctx, "report", nil, MaxRetries(1), FixedBackoff(0),
		Headers(map[string]string{"source": "option", "request-id": "r1"}), Headers(map[string]string{"x.y": "z"}))
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	want := map[string]string{"tenant": "acme", "source": "option", "request-id": "r1", "x.y": "z"}
	if !maps.Equal(j.Headers, want) {
		t.Fatalf("returned job's headers = %v, want %v", j.Headers, want)
	}
	if stored := tb.job(t, j.ID).Headers; !maps.Equal(stored, want) {
		t.Fatalf("stored headers = %v, want %v", stored, want)
	}
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	for attempt := 1; attempt <= 2; attempt++ {
		s := <-got
		if s.attempt != attempt || !maps.Equal(s.headers, want) || s.tenant != "acme" {
			t.Fatalf("attempt %d saw attempt %d, headers %v, Header(tenant) %q; want headers %v", attempt, s.attempt, s.headers, s.tenant, want)
		}
	}
	tb.waitState(t, j.ID, asyncmqtype.StateCompleted)
}

func TestEnqueueWithoutHeaders(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	j := tb.enqueue(t, "report", nil, Headers(nil), Headers(map[string]string{}))
	if j.Headers != nil || tb.job(t, j.ID).Headers != nil {
		t.Fatalf("headers of a job enqueued without any: returned %v, stored %v; want nil", j.Headers, tb.job(t, j.ID).Headers)
	}
	job := NewTestJob("report", nil)
	if job.Headers() != nil || job.Header("x") != "" {
		t.Fatalf("a test job has headers %v", job.Headers())
	}
}

// TestEnqueueRefusesBadHeaders checks that headers beyond the limits fail Enqueue and
// EnqueueMany with ErrInvalid naming the header, whether they come from an option or from the
// context, and store nothing.
func TestEnqueueRefusesBadHeaders(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	fromCtx := NewClient(tb.b, HeadersFromContext(func(context.Context) map[string]string {
		return map[string]string{"bad\nname": "v"}
	}))
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"option", func() error {
			_, err := tb.client.Enqueue(t.Context(), "t", nil, JobID("a"), Headers(map[string]string{"bad name": "v"}))
			return err
		}, `"bad name"`},
		{"value", func() error {
			_, err := tb.client.Enqueue(t.Context(), "t", nil, JobID("b"), Headers(map[string]string{"k": "a\x00b"}))
			return err
		}, `"k"`},
		{"context", func() error {
			_, err := fromCtx.Enqueue(t.Context(), "t", nil, JobID("c"))
			return err
		}, `"bad\nname"`},
		{"many", func() error {
			_, err := tb.client.EnqueueMany(t.Context(), []Request{
				{Task: "t", Options: []EnqueueOption{JobID("d")}},
				{Task: "t", Options: []EnqueueOption{JobID("e"), Headers(map[string]string{"": "v"})}},
			})
			return err
		}, "empty name"},
	}
	for _, tt := range tests {
		err := tt.do()
		if !errors.Is(err, asyncmqtype.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrInvalid naming %s", tt.name, err, tt.want)
		}
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if _, err := tb.b.GetJob(t.Context(), id); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
			t.Errorf("job %s was stored (GetJob: %v)", id, err)
		}
	}
}

// TestNewTestJobOptions: a unit test can give a test job what Enqueue's options give a real one,
// headers included, and an invalid option is a setup error that panics naming it.
func TestNewTestJobOptions(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	job := NewTestJob("report", nil, Queue("reports"), JobID("r-1"), Priority(1), MaxRetries(7), RunAt(at),
		Headers(map[string]string{"tenant": "acme"}))
	if job.ID != "r-1" || job.Queue != "reports" || job.Priority != 1 || job.MaxRetries != 7 || !job.RunAt.Equal(at) || job.Attempt != 1 {
		t.Fatalf("test job = id %q queue %q priority %d retries %d run at %v attempt %d", job.ID, job.Queue, job.Priority, job.MaxRetries, job.RunAt, job.Attempt)
	}
	if job.Header("tenant") != "acme" || !maps.Equal(job.Headers(), map[string]string{"tenant": "acme"}) {
		t.Fatalf("test job headers = %v", job.Headers())
	}
	var saw string
	h := HandlerFunc(func(_ context.Context, j *Job) error { saw = j.Header("tenant"); return nil })
	if err := h.ProcessJob(t.Context(), job); err != nil || saw != "acme" {
		t.Fatalf("handler saw tenant %q, err %v", saw, err)
	}
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "Priority(2000000)") {
			t.Fatalf("invalid option: recovered %v, want a panic naming Priority(2000000)", r)
		}
	}()
	NewTestJob("report", nil, Priority(2_000_000))
}
