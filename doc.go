// Package asyncmq is a job queue for Go with a durable embedded store and a mountable,
// authenticated admin dashboard.
//
// An application enqueues jobs with a Client and runs them with a Worker:
//
//	import _ "github.com/asyncmq/asyncmq/backend/sqlite" // links the store that serves sqlite://
//
//	b, err := asyncmq.Open(ctx, "sqlite://app.db")
//	...
//	client := asyncmq.NewClient(b)
//	_, err = client.Enqueue(ctx, "email.send", Email{To: "ada@example.com"},
//		asyncmq.Queue("emails"), asyncmq.MaxRetries(5))
//
//	mux := asyncmq.NewServeMux()
//	asyncmq.HandleTyped(mux, "email.send", func(ctx context.Context, job *asyncmq.Job, e Email) error {
//		return send(ctx, e)
//	})
//	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{Queues: map[string]int{"emails": 10}})
//	...
//	err = w.Run(ctx) // until ctx is cancelled, then a graceful shutdown
//
// # Delivery
//
// Jobs are delivered at least once. A worker holds a lease on each job it runs and extends it by
// heartbeat; if the worker dies, the lease expires and another worker runs the job again. Write
// handlers so that running one twice is harmless, and use JobID or Unique to keep producers from
// enqueueing the same work twice.
//
// # Failures
//
// A handler that returns an error, panics or exceeds its Timeout fails the attempt. The job is
// retried after a backoff (exponential from 1s, capped at 1h, with jitter, unless the job says
// otherwise) until it has run MaxRetries+1 times, then it fails. An error wrapping SkipRetry
// fails it at once. Every attempt's error is stored with the job, with the stack for a panic.
//
// # Stores
//
// Open takes a URL: "sqlite://path" (the default, DefaultBackendURL) for a durable store that
// several processes on one machine share, or "memory://" for tests. The package links no store
// itself: a program imports the store packages it uses (backend/sqlite, backend/memory, or
// backend/all for every one), and pays for nothing else. Everything in the package works on the
// Store interface, so other stores plug in without changes here.
//
// Stores run the clock: lease expiry, due delayed jobs and retry times are decided on the
// store's clock, so workers whose clocks disagree never steal each other's jobs. Maintenance
// (promoting due jobs, recovering stalled ones, retention, repeatables, pruning dead workers)
// runs on one elected worker per store, and moves to another within two lease periods when that
// worker dies. Idle workers wait on the store's wake-up signal where it has one, and poll as a
// fallback.
//
// The types of stored data that the Client and the Inspector return (JobInfo, QueueInfo, Event,
// ...) and the typed errors (ErrJobNotFound, ...) live in package asyncmqtype.
//
// # Administration
//
// Inspector is the administration API (queues, jobs, retries, pausing, repeatables, workers,
// events, metrics, audit) that the dashboard in package admin and the asyncmq command build on.
package asyncmq
