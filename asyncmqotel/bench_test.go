package asyncmqotel_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqotel"
)

// BenchmarkMiddleware measures what the middleware adds to one attempt of a handler that does
// nothing: "bare" calls the handler alone, "otel" through the middleware with SDK providers that
// sample every span and keep the metrics in memory (no exporter).
func BenchmarkMiddleware(b *testing.B) {
	noop := asyncmq.HandlerFunc(func(context.Context, *asyncmq.Job) error { return nil })
	tel, err := asyncmqotel.New(asyncmqotel.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample())),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    asyncmq.Handler
	}{{"bare", noop}, {"otel", tel.Middleware()(noop)}} {
		b.Run(bc.name, func(b *testing.B) {
			job := asyncmq.NewTestJob("email.send", nil)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.h.ProcessJob(ctx, job); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
