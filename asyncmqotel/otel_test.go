package asyncmqotel_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqotel"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// bundle is one test's store, client, mux and telemetry, with the spans and metrics they record.
type bundle struct {
	store  asyncmq.Store
	client *asyncmq.Client
	mux    *asyncmq.ServeMux
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
}

func setup(t *testing.T, opts asyncmqotel.Options) *bundle {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { _ = store.Close() })
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	opts.TracerProvider = tp
	opts.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := asyncmqotel.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := asyncmq.NewServeMux()
	mux.Use(tel.Middleware())
	return &bundle{store: store, client: asyncmq.NewClient(store, tel.ClientOption()), mux: mux, spans: spans, tp: tp, reader: reader}
}

// run starts a worker until the test ends.
func (b *bundle) run(t *testing.T) {
	t.Helper()
	w, err := asyncmq.NewWorker(b.store, b.mux, asyncmq.WorkerConfig{
		Queues: map[string]int{asyncmq.DefaultQueue: 1}, LeaseDuration: 5 * time.Second,
		HeartbeatInterval: 20 * time.Millisecond, PollInterval: 10 * time.Millisecond,
		ScheduleInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	go func() { _ = w.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Shutdown(ctx)
	})
}

// waitState waits until the stored job is in state.
func (b *bundle) waitState(t *testing.T, id string, state asyncmqtype.State) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		j, err := b.store.GetJob(t.Context(), id)
		if err != nil {
			t.Fatalf("GetJob: %v", err)
		}
		if j.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %s", id, j.State, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobSpans returns the ended attempt spans, in the order they ended.
func (b *bundle) jobSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range b.spans.Ended() {
		if s.SpanKind() == trace.SpanKindConsumer {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// enqueueInSpan enqueues a job of task inside a producer span and returns the job and the span's
// context.
func (b *bundle) enqueueInSpan(t *testing.T, task string, opts ...asyncmq.EnqueueOption) (*asyncmqtype.JobInfo, trace.SpanContext) {
	t.Helper()
	ctx, span := b.tp.Tracer("producer").Start(t.Context(), "handle request")
	defer span.End()
	j, err := b.client.Enqueue(ctx, task, nil, opts...)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return j, span.SpanContext()
}

func TestSpanContinuesTheProducersTrace(t *testing.T) {
	t.Parallel()
	b := setup(t, asyncmqotel.Options{})
	var handlerSpan trace.SpanContext
	b.mux.HandleFunc("email.send", func(ctx context.Context, job *asyncmq.Job) error {
		handlerSpan = trace.SpanContextFromContext(ctx)
		return nil
	})
	j, producer := b.enqueueInSpan(t, "email.send", asyncmq.Queue(asyncmq.DefaultQueue))
	if j.Headers["traceparent"] == "" {
		t.Fatalf("headers stored at enqueue = %v, want a traceparent", j.Headers)
	}
	b.run(t)
	b.waitState(t, j.ID, asyncmqtype.StateCompleted)

	spans := b.jobSpans()
	if len(spans) != 1 {
		t.Fatalf("%d attempt spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "asyncmq.process email.send" {
		t.Errorf("span name %q", s.Name())
	}
	if s.SpanContext().TraceID() != producer.TraceID() || s.Parent().SpanID() != producer.SpanID() {
		t.Errorf("span is in trace %s under %s, want trace %s under %s", s.SpanContext().TraceID(), s.Parent().SpanID(), producer.TraceID(), producer.SpanID())
	}
	if handlerSpan.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("the handler's context carries span %s, want the attempt's %s", handlerSpan.SpanID(), s.SpanContext().SpanID())
	}
	want := map[attribute.Key]attribute.Value{
		asyncmqotel.AttrQueue:   attribute.StringValue("default"),
		asyncmqotel.AttrTask:    attribute.StringValue("email.send"),
		asyncmqotel.AttrJobID:   attribute.StringValue(j.ID),
		asyncmqotel.AttrAttempt: attribute.IntValue(1),
		asyncmqotel.AttrOutcome: attribute.StringValue("completed"),
	}
	for k, v := range want {
		if got := attr(s, k); got != v {
			t.Errorf("attribute %s = %v, want %v", k, got, v)
		}
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status %v, want unset", s.Status())
	}
}

func TestFailureWithRetryThenFinalFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, asyncmqotel.Options{})
	b.mux.HandleFunc("report", func(context.Context, *asyncmq.Job) error { return errors.New("disk full") })
	j, producer := b.enqueueInSpan(t, "report", asyncmq.MaxRetries(1), asyncmq.FixedBackoff(0))
	b.run(t)
	b.waitState(t, j.ID, asyncmqtype.StateFailed)

	spans := b.jobSpans()
	if len(spans) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(spans))
	}
	for i, want := range []string{"retried", "failed"} {
		s := spans[i]
		if got := attr(s, asyncmqotel.AttrOutcome).AsString(); got != want {
			t.Errorf("attempt %d: outcome %q, want %q", i+1, got, want)
		}
		if got := attr(s, asyncmqotel.AttrAttempt).AsInt64(); got != int64(i+1) {
			t.Errorf("attempt %d: attempt attribute %d", i+1, got)
		}
		if s.Status().Code != codes.Error || s.Status().Description != "disk full" {
			t.Errorf("attempt %d: status %+v, want an error saying disk full", i+1, s.Status())
		}
		if len(s.Events()) == 0 || s.Events()[0].Name != "exception" {
			t.Errorf("attempt %d: the error is not recorded as an event: %v", i+1, s.Events())
		}
		if s.Parent().SpanID() != producer.SpanID() {
			t.Errorf("attempt %d: parent %s, want the producer %s", i+1, s.Parent().SpanID(), producer.SpanID())
		}
	}

	var rm metricdata.ResourceMetrics
	if err := b.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	attempts := map[string]int64{}
	var durations, waits uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "asyncmq.job.attempts":
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					o, _ := p.Attributes.Value(asyncmqotel.AttrOutcome)
					q, _ := p.Attributes.Value(asyncmqotel.AttrQueue)
					task, _ := p.Attributes.Value(asyncmqotel.AttrTask)
					if q.AsString() != "default" || task.AsString() != "report" {
						t.Errorf("attempts counted for queue %q task %q", q.AsString(), task.AsString())
					}
					attempts[o.AsString()] += p.Value
				}
			case "asyncmq.job.duration":
				for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					durations += p.Count
				}
				if m.Unit != "s" {
					t.Errorf("duration unit %q", m.Unit)
				}
			case "asyncmq.job.wait.duration":
				for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					waits += p.Count
					if v, ok := p.Min.Value(); ok && v < 0 {
						t.Errorf("negative wait %v", v)
					}
				}
			}
		}
	}
	if attempts["retried"] != 1 || attempts["failed"] != 1 || len(attempts) != 2 {
		t.Errorf("asyncmq.job.attempts by outcome = %v, want retried 1 and failed 1", attempts)
	}
	if durations != 2 || waits != 2 {
		t.Errorf("%d durations and %d waits recorded, want 2 each", durations, waits)
	}
}

func TestCancelledAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, asyncmqotel.Options{})
	started := make(chan struct{})
	b.mux.HandleFunc("slow", func(ctx context.Context, _ *asyncmq.Job) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	})
	j, _ := b.enqueueInSpan(t, "slow")
	b.run(t)
	<-started
	if err := asyncmq.NewInspector(b.store).CancelJob(t.Context(), j.ID); err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	b.waitState(t, j.ID, asyncmqtype.StateCancelled)
	spans := b.jobSpans()
	if len(spans) != 1 || attr(spans[0], asyncmqotel.AttrOutcome).AsString() != "cancelled" {
		t.Fatalf("spans %v, want one with outcome cancelled", spans)
	}
}

// TestNewRootLinksTheProducer checks the NewRoot option, and that a job enqueued outside any
// trace starts a trace of its own.
func TestNewRootLinksTheProducer(t *testing.T) {
	t.Parallel()
	b := setup(t, asyncmqotel.Options{NewRoot: true})
	b.mux.HandleFunc("t", func(context.Context, *asyncmq.Job) error { return nil })
	linked, producer := b.enqueueInSpan(t, "t")
	plain, err := b.client.Enqueue(t.Context(), "t", nil)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if plain.Headers != nil {
		t.Fatalf("a job enqueued outside a trace has headers %v", plain.Headers)
	}
	b.run(t)
	b.waitState(t, linked.ID, asyncmqtype.StateCompleted)
	b.waitState(t, plain.ID, asyncmqtype.StateCompleted)
	for _, s := range b.jobSpans() {
		if s.Parent().IsValid() {
			t.Errorf("span of job %s has parent %s, want a root", attr(s, asyncmqotel.AttrJobID).AsString(), s.Parent().SpanID())
		}
		switch attr(s, asyncmqotel.AttrJobID).AsString() {
		case linked.ID:
			if len(s.Links()) != 1 || s.Links()[0].SpanContext.SpanID() != producer.SpanID() || s.SpanContext().TraceID() == producer.TraceID() {
				t.Errorf("span of the traced job: links %v, trace %s; want a new trace linked to %s", s.Links(), s.SpanContext().TraceID(), producer.SpanID())
			}
		case plain.ID:
			if len(s.Links()) != 0 {
				t.Errorf("span of the untraced job has links %v", s.Links())
			}
		}
	}
}

func TestInjectHeaders(t *testing.T) {
	t.Parallel()
	tel, err := asyncmqotel.New(asyncmqotel.Options{TracerProvider: sdktrace.NewTracerProvider()})
	if err != nil {
		t.Fatal(err)
	}
	if h := tel.InjectHeaders(context.Background()); h != nil {
		t.Errorf("headers of a context without a span = %v, want nil", h)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	})
	h := tel.InjectHeaders(trace.ContextWithSpanContext(context.Background(), sc))
	if want := "00-01000000000000000000000000000000-0200000000000000-01"; h["traceparent"] != want {
		t.Errorf("traceparent = %q, want %q", h["traceparent"], want)
	}
}
