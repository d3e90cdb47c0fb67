// Package asyncmqprom exports the jobs a worker process runs as Prometheus metrics, next to the
// application's own: create a Collector, register it in the application's registry, and add its
// Middleware to the worker's ServeMux.
//
//	c := asyncmqprom.NewCollector(asyncmqprom.Options{})
//	registry.MustRegister(c)
//	mux.Use(c.Middleware)
//
// The metrics are this process's: jobs it ran by queue, task and outcome, their run time and
// their wait from enqueue (or run-at) to start, and the jobs running now. The dashboard's
// /metrics/prometheus endpoint (or `asyncmq serve --metrics-addr`) exports the store's view of
// every queue instead; the two use different names so that both can be scraped.
package asyncmqprom

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// errPanic stands for a panic when naming its outcome.
var errPanic = errors.New("handler panicked")

// Options configures a Collector. The zero value is usable.
type Options struct {
	// Namespace prefixes every metric name. Default "asyncmq_worker".
	Namespace string
	// ConstLabels are added to every metric (for example the service name). Default none.
	ConstLabels prometheus.Labels
	// DurationBuckets are the run time histogram's upper bounds in seconds. Default the bounds
	// of the store's histogram (asyncmqtype.DurationBuckets), so both views compare.
	DurationBuckets []float64
	// WaitBuckets are the wait histogram's upper bounds in seconds. Default
	// prometheus.ExponentialBuckets(0.005, 4, 10): 5ms to about 22 minutes.
	WaitBuckets []float64
}

// Collector is a prometheus.Collector of the jobs this process runs. It is safe for concurrent
// use.
type Collector struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	wait     *prometheus.HistogramVec
	running  *prometheus.GaugeVec
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector with opts.
func NewCollector(opts Options) *Collector {
	if opts.Namespace == "" {
		opts.Namespace = "asyncmq_worker"
	}
	if opts.DurationBuckets == nil {
		for _, b := range asyncmqtype.DurationBuckets {
			opts.DurationBuckets = append(opts.DurationBuckets, b.Seconds())
		}
	}
	if opts.WaitBuckets == nil {
		opts.WaitBuckets = prometheus.ExponentialBuckets(0.005, 4, 10)
	}
	labels := []string{"queue", "task"}
	return &Collector{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: opts.Namespace, Name: "jobs_total", ConstLabels: opts.ConstLabels,
			Help: "Job attempts this process ran, by outcome: completed, retry, failed or cancelled.",
		}, []string{"queue", "task", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: opts.Namespace, Name: "job_duration_seconds", ConstLabels: opts.ConstLabels,
			Help: "Handler run time of the job attempts this process ran.", Buckets: opts.DurationBuckets,
		}, labels),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: opts.Namespace, Name: "job_wait_seconds", ConstLabels: opts.ConstLabels,
			Help: "Time from a job's run-at (its enqueue, unless delayed) to the start of the attempt.", Buckets: opts.WaitBuckets,
		}, labels),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: opts.Namespace, Name: "jobs_running", ConstLabels: opts.ConstLabels,
			Help: "Job attempts this process is running now.",
		}, labels),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.jobs.Describe(ch)
	c.duration.Describe(ch)
	c.wait.Describe(ch)
	c.running.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.jobs.Collect(ch)
	c.duration.Collect(ch)
	c.wait.Collect(ch)
	c.running.Collect(ch)
}

// Middleware measures every job the mux runs. A panicking handler is counted with the outcome
// the worker stores for a panic (retry, or failed on the last attempt) and the panic goes on to
// the worker.
func (c *Collector) Middleware(next asyncmq.Handler) asyncmq.Handler {
	return asyncmq.HandlerFunc(func(ctx context.Context, job *asyncmq.Job) (err error) {
		start := time.Now()
		if !job.RunAt.IsZero() {
			c.wait.WithLabelValues(job.Queue, job.Task).Observe(max(0, start.Sub(job.RunAt).Seconds()))
		}
		running := c.running.WithLabelValues(job.Queue, job.Task)
		running.Inc()
		var outcome asyncmqtype.Outcome
		defer func() {
			if p := recover(); p != nil {
				outcome = asyncmq.AttemptOutcome(ctx, job, errPanic)
				defer panic(p)
			}
			running.Dec()
			c.duration.WithLabelValues(job.Queue, job.Task).Observe(time.Since(start).Seconds())
			c.jobs.WithLabelValues(job.Queue, job.Task, string(outcome)).Inc()
		}()
		err = next.ProcessJob(ctx, job)
		outcome = asyncmq.AttemptOutcome(ctx, job, err)
		return err
	})
}
