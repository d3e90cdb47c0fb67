package asyncmqotel_test

import (
	"context"
	"log"

	"go.opentelemetry.io/otel"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqotel"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// The README's OpenTelemetry section: the client stores the enqueue's trace context with the
// job, and the worker's spans continue that trace.
func Example() {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()

	tel, err := asyncmqotel.New(asyncmqotel.Options{
		TracerProvider: otel.GetTracerProvider(), // or your SDK's provider; the same for MeterProvider
	})
	if err != nil {
		log.Fatal(err)
	}

	// Producer: every Enqueue stores the current span's traceparent in the job's headers.
	client := asyncmq.NewClient(b, tel.ClientOption())
	ctx, span := otel.Tracer("shop").Start(ctx, "checkout")
	_, err = client.Enqueue(ctx, "email.send", map[string]string{"to": "ada@example.com"},
		asyncmq.Headers(map[string]string{"tenant": "acme"})) // headers of your own, too
	span.End()
	if err != nil {
		log.Fatal(err)
	}

	// Worker: each attempt is a span "asyncmq.process email.send", the child of "checkout".
	mux := asyncmq.NewServeMux()
	mux.Use(tel.Middleware())
	mux.HandleFunc("email.send", func(ctx context.Context, job *asyncmq.Job) error {
		log.Printf("sending for tenant %s", job.Header("tenant"))
		return nil
	})
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{Queues: map[string]int{"default": 10}})
	if err != nil {
		log.Fatal(err)
	}
	_ = w // w.Run(ctx) until shutdown
}
