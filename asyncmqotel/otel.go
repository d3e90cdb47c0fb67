// Package asyncmqotel traces and measures asyncmq jobs with OpenTelemetry. A producer's trace
// context travels with each job in its headers, so the span of every attempt continues the trace
// that enqueued the job:
//
//	tel, err := asyncmqotel.New(asyncmqotel.Options{}) // the global providers
//	client := asyncmq.NewClient(store, tel.ClientOption())
//	mux.Use(tel.Middleware())
//
// Each attempt is a span named "asyncmq.process <task>" of kind consumer, with the attributes
// asyncmq.queue, asyncmq.task, asyncmq.job.id, asyncmq.job.attempt and asyncmq.job.outcome
// (completed, retried, failed or cancelled). The metrics are asyncmq.job.attempts (a counter by
// queue, task and outcome), asyncmq.job.duration (the handler's run time, in seconds) and
// asyncmq.job.wait.duration (from the job's run-at, its enqueue unless delayed or retried, to the
// start of the attempt, in seconds).
//
// The package is apart from the root package so that an application that does not use
// OpenTelemetry does not link it.
package asyncmqotel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// scope names the instrumentation in the spans and metrics it makes.
const scope = "github.com/asyncmq/asyncmq/asyncmqotel"

// Attribute keys of the spans and metrics.
const (
	AttrQueue   = attribute.Key("asyncmq.queue")
	AttrTask    = attribute.Key("asyncmq.task")
	AttrJobID   = attribute.Key("asyncmq.job.id")
	AttrAttempt = attribute.Key("asyncmq.job.attempt")
	AttrOutcome = attribute.Key("asyncmq.job.outcome")
)

// Outcomes of an attempt, the values of AttrOutcome.
const (
	OutcomeCompleted = "completed"
	OutcomeRetried   = "retried"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
)

// Options configures New. The zero value uses OpenTelemetry's global providers and the W3C trace
// context.
type Options struct {
	// TracerProvider makes the spans. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagators write the trace context into job headers at enqueue and read it back in the
	// worker. Default propagation.TraceContext{}, the W3C traceparent and tracestate headers;
	// the global propagator is not the default because it propagates nothing until the
	// application sets one.
	Propagators propagation.TextMapPropagator
	// NewRoot starts every attempt's span in a trace of its own, linked to the producer's span,
	// instead of as the producer's child. Long-lived or fan-out jobs read better that way in some
	// tracing backends. Default false: the attempt's span is the producer span's child.
	NewRoot bool
}

// Telemetry holds the tracer and instruments of one configuration. It is safe for concurrent
// use; make one per process and share it between the client and the worker.
type Telemetry struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	newRoot  bool
	attempts metric.Int64Counter
	duration metric.Float64Histogram
	wait     metric.Float64Histogram
}

// New returns a Telemetry for opts. It fails only when the meter provider refuses an instrument.
func New(opts Options) (*Telemetry, error) {
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	if opts.Propagators == nil {
		opts.Propagators = propagation.TraceContext{}
	}
	meter := opts.MeterProvider.Meter(scope)
	t := &Telemetry{tracer: opts.TracerProvider.Tracer(scope), prop: opts.Propagators, newRoot: opts.NewRoot}
	var err error
	if t.attempts, err = meter.Int64Counter("asyncmq.job.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Job attempts this process ran, by queue, task and outcome.")); err != nil {
		return nil, fmt.Errorf("create the asyncmq.job.attempts counter: %w", err)
	}
	if t.duration, err = meter.Float64Histogram("asyncmq.job.duration", metric.WithUnit("s"),
		metric.WithDescription("Handler run time of the job attempts this process ran.")); err != nil {
		return nil, fmt.Errorf("create the asyncmq.job.duration histogram: %w", err)
	}
	if t.wait, err = meter.Float64Histogram("asyncmq.job.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from a job's run-at (its enqueue, unless delayed or retried) to the start of the attempt.")); err != nil {
		return nil, fmt.Errorf("create the asyncmq.job.wait.duration histogram: %w", err)
	}
	return t, nil
}

// ClientOption makes a client store the trace context of each Enqueue's context in the job's
// headers (see InjectHeaders).
func (t *Telemetry) ClientOption() asyncmq.ClientOption {
	return asyncmq.HeadersFromContext(t.InjectHeaders)
}

// InjectHeaders returns the headers that carry ctx's trace context (with the default
// propagator, traceparent and tracestate), or nil when ctx has none. A header that a store would
// refuse (see backend.ValidateHeaders), such as an oversized tracestate, is left out, so tracing
// never makes an enqueue fail.
func (t *Telemetry) InjectHeaders(ctx context.Context) map[string]string {
	carrier := propagation.MapCarrier{}
	t.prop.Inject(ctx, carrier)
	for k, v := range carrier {
		if backend.ValidateHeaders(map[string]string{k: v}) != nil {
			delete(carrier, k)
		}
	}
	if len(carrier) == 0 {
		return nil
	}
	if backend.ValidateHeaders(carrier) != nil {
		return nil
	}
	return carrier
}

// errPanic stands for a panic when naming its outcome.
var errPanic = errors.New("handler panicked")

// Middleware returns mux middleware that runs each attempt in a span continuing the producer's
// trace (read from the job's headers) and records the attempt's metrics. The span's status is
// an error when the handler returns one or panics; a panic is recorded and goes on to the worker.
// Put it first in mux.Use, so that the span covers the other middleware.
func (t *Telemetry) Middleware() asyncmq.Middleware {
	return func(next asyncmq.Handler) asyncmq.Handler {
		return asyncmq.HandlerFunc(func(ctx context.Context, job *asyncmq.Job) (err error) {
			start := time.Now()
			where := metric.WithAttributeSet(attribute.NewSet(AttrQueue.String(job.Queue), AttrTask.String(job.Task)))
			if !job.RunAt.IsZero() {
				t.wait.Record(ctx, max(0, start.Sub(job.RunAt).Seconds()), where)
			}
			spanCtx, span := t.start(ctx, job)
			defer func() {
				p := recover()
				if p != nil {
					err = errPanic
				}
				outcome := outcomeName(asyncmq.AttemptOutcome(ctx, job, err))
				span.SetAttributes(AttrOutcome.String(outcome))
				if err != nil {
					span.RecordError(err)
					span.SetStatus(codes.Error, err.Error())
				}
				span.End()
				byOutcome := metric.WithAttributeSet(attribute.NewSet(AttrQueue.String(job.Queue),
					AttrTask.String(job.Task), AttrOutcome.String(outcome)))
				t.duration.Record(ctx, time.Since(start).Seconds(), byOutcome)
				t.attempts.Add(ctx, 1, byOutcome)
				if p != nil {
					panic(p)
				}
			}()
			return next.ProcessJob(spanCtx, job)
		})
	}
}

// start begins the span of one attempt, as the child of the producer's span or, with NewRoot,
// linked to it.
func (t *Telemetry) start(ctx context.Context, job *asyncmq.Job) (context.Context, trace.Span) {
	producerCtx := t.prop.Extract(ctx, propagation.MapCarrier(job.Headers()))
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(AttrQueue.String(job.Queue), AttrTask.String(job.Task),
			AttrJobID.String(job.ID), AttrAttempt.Int(job.Attempt)),
	}
	if !t.newRoot {
		return t.tracer.Start(producerCtx, "asyncmq.process "+job.Task, opts...)
	}
	opts = append(opts, trace.WithNewRoot())
	if producer := trace.SpanContextFromContext(producerCtx); producer.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: producer}))
	}
	// The extracted context still carries what the propagator read besides the span (baggage).
	return t.tracer.Start(producerCtx, "asyncmq.process "+job.Task, opts...)
}

// outcomeName names an attempt's outcome for the asyncmq.job.outcome attribute.
func outcomeName(o asyncmqtype.Outcome) string {
	switch o {
	case asyncmqtype.OutcomeCompleted:
		return OutcomeCompleted
	case asyncmqtype.OutcomeRetry:
		return OutcomeRetried
	case asyncmqtype.OutcomeCancelled:
		return OutcomeCancelled
	default:
		return OutcomeFailed
	}
}
