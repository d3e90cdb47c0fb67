// Package bench is the engine behind "asyncmq bench": it enqueues no-op jobs into a store, works
// them off with one Worker, and reports throughput and enqueue-to-start latency.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// DefaultBatchSize is the number of jobs per EnqueueMany call in bulk mode.
const DefaultBatchSize = 1000

// task is the task name of the benchmark's jobs.
const task = "bench.noop"

// Config describes one benchmark run.
type Config struct {
	// Jobs is the number of jobs enqueued and processed. Default 10,000.
	Jobs int
	// Producers is the number of goroutines enqueueing at once. Default 1.
	Producers int
	// Concurrency is the worker's concurrency. Default 50.
	Concurrency int
	// Bulk enqueues with EnqueueMany in batches of BatchSize instead of one job per call.
	Bulk bool
	// BatchSize is the bulk batch size. Default DefaultBatchSize.
	BatchSize int
	// Overlap starts the worker before the producers, so jobs are worked while they are enqueued.
	// Without it (the default) all jobs are enqueued first and then burnt down, and the latency
	// mostly measures how long a job waited behind the backlog.
	Overlap bool
	// Rate caps the enqueue rate, in jobs per second over all producers: job k is not enqueued
	// before k/Rate seconds into the run. Zero enqueues as fast as the producers can. It applies to
	// one job per call only (not Bulk); with Overlap it measures latency at a steady, known load.
	Rate float64
	// FetchCooldown is the worker's WorkerConfig.FetchCooldown; zero keeps the worker's default.
	FetchCooldown time.Duration
	// BackendName is reported in the Result (the store's URL, say).
	BackendName string
	// Logger receives the worker's logs. Default: discarded.
	Logger *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Backend     string `json:"backend"`
	Queue       string `json:"queue"`
	Jobs        int    `json:"jobs"`
	Producers   int    `json:"producers"`
	Concurrency int    `json:"concurrency"`
	Bulk        bool   `json:"bulk"`
	Overlap     bool   `json:"overlap,omitempty"`
	// Rate is Config.Rate, when set.
	Rate float64 `json:"rate,omitempty"`
	// EnqueueSeconds is the wall time of the enqueue phase; EnqueueJobsPerSec is Jobs divided by it.
	EnqueueSeconds    float64 `json:"enqueue_s"`
	EnqueueJobsPerSec float64 `json:"enqueue_jobs_per_s"`
	// ProcessSeconds runs from the worker's start to the moment the last outcome is stored.
	ProcessSeconds    float64 `json:"process_s"`
	ProcessJobsPerSec float64 `json:"process_jobs_per_s"`
	// LatencyP50Ms and LatencyP99Ms are percentiles of the time from a job's enqueue to the start
	// of its handler, in milliseconds.
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
}

func (c Config) withDefaults() (Config, error) {
	if c.Jobs == 0 {
		c.Jobs = 10_000
	}
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Concurrency == 0 {
		c.Concurrency = 50
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	switch {
	case c.Jobs < 0:
		return c, fmt.Errorf("jobs %d: must be positive", c.Jobs)
	case c.Producers < 0:
		return c, fmt.Errorf("producers %d: must be positive", c.Producers)
	case c.Concurrency < 0:
		return c, fmt.Errorf("concurrency %d: must be positive", c.Concurrency)
	case c.BatchSize < 0:
		return c, fmt.Errorf("batch size %d: must be positive", c.BatchSize)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return c, fmt.Errorf("rate %v: must be a positive number of jobs per second", c.Rate)
	case c.Rate > 0 && c.Bulk:
		return c, errors.New("rate: applies to one job per call, not to bulk enqueues")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Run performs one benchmark run on b, in a queue of its own ("bench-<random>"), and returns the
// figures. The jobs stay in the store afterwards.
func Run(ctx context.Context, b asyncmq.Store, cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	queue := "bench-" + hex.EncodeToString(suffix[:])
	res := Result{Backend: cfg.BackendName, Queue: queue, Jobs: cfg.Jobs, Producers: cfg.Producers,
		Concurrency: cfg.Concurrency, Bulk: cfg.Bulk, Overlap: cfg.Overlap, Rate: cfg.Rate}

	r := &run{cfg: cfg, latencies: make([]time.Duration, cfg.Jobs), allDone: make(chan struct{})}
	mux := asyncmq.NewServeMux()
	mux.HandleFunc(task, r.handle)
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{
		Queues:        map[string]int{queue: cfg.Concurrency},
		FetchCooldown: cfg.FetchCooldown,
		Logger:        cfg.Logger,
		Retention:     &asyncmq.Retention{}, // keep every job, so the counts can be checked
		OnEvent:       r.observe,
	})
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	running := false // a worker goroutine has not yet been waited for
	defer func() {
		// On an early return, the worker must be done with the store before the caller, say,
		// closes it.
		stop()
		if running {
			<-workerDone
		}
	}()
	var processStart time.Time
	startWorker := func() {
		processStart = time.Now()
		running = true
		go func() { workerDone <- w.Run(runCtx) }()
	}
	if cfg.Overlap {
		startWorker()
	}

	enqueueStart := time.Now()
	if err := r.enqueue(ctx, asyncmq.NewClient(b), queue); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	res.EnqueueSeconds = time.Since(enqueueStart).Seconds()
	res.EnqueueJobsPerSec = float64(cfg.Jobs) / res.EnqueueSeconds

	if !cfg.Overlap {
		startWorker()
	}
	select {
	case <-r.allDone:
	case err := <-workerDone:
		running = false
		return res, fmt.Errorf("bench: worker stopped early: %w", err)
	case <-ctx.Done():
		return res, fmt.Errorf("bench: %w", ctx.Err())
	}
	res.ProcessSeconds = time.Since(processStart).Seconds()
	res.ProcessJobsPerSec = float64(cfg.Jobs) / res.ProcessSeconds
	stop()
	running = false
	if err := <-workerDone; err != nil {
		return res, fmt.Errorf("bench: worker: %w", err)
	}
	if err := r.firstErr(); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}

	q, err := b.Queue(ctx, queue)
	if err != nil {
		return res, fmt.Errorf("bench: read queue %q: %w", queue, err)
	}
	if got := q.Counts[asyncmqtype.StateCompleted]; got != cfg.Jobs {
		return res, fmt.Errorf("bench: the store holds %d completed jobs in queue %q, want %d", got, queue, cfg.Jobs)
	}
	lat := r.latencies[:min(int(r.started.Load()), len(r.latencies))]
	slices.Sort(lat)
	res.LatencyP50Ms = percentile(lat, 0.50)
	res.LatencyP99Ms = percentile(lat, 0.99)
	return res, nil
}

// run is the state of one benchmark run shared by the producers, the handler and the observer.
type run struct {
	cfg       Config
	latencies []time.Duration
	started   atomic.Int64
	completed atomic.Int64
	// next is the index of the next job a paced producer (Config.Rate) enqueues; t0 is when the
	// enqueue phase started.
	next    atomic.Int64
	t0      time.Time
	allDone chan struct{}

	mu  sync.Mutex
	err error
}

func (r *run) handle(_ context.Context, job *asyncmq.Job) error {
	lat := time.Since(job.CreatedAt)
	if i := r.started.Add(1) - 1; i < int64(len(r.latencies)) {
		r.latencies[i] = lat
	}
	return nil
}

func (r *run) observe(e asyncmq.WorkerEvent) {
	if e.Kind != asyncmq.WorkerJobFinished {
		return
	}
	if e.Err != nil || e.Outcome != asyncmqtype.OutcomeCompleted {
		r.fail(fmt.Errorf("job %s: outcome %s: %v", e.JobID, e.Outcome, e.Err))
	}
	if r.completed.Add(1) == int64(r.cfg.Jobs) {
		close(r.allDone)
	}
}

func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *run) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// enqueue spreads the jobs over the producers and waits for them.
func (r *run) enqueue(ctx context.Context, c *asyncmq.Client, queue string) error {
	cfg := r.cfg
	var wg sync.WaitGroup
	errs := make([]error, cfg.Producers)
	if cfg.Rate > 0 {
		r.t0 = time.Now()
		for p := range cfg.Producers {
			wg.Go(func() { errs[p] = r.pace(ctx, c, queue) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	per, extra := cfg.Jobs/cfg.Producers, cfg.Jobs%cfg.Producers
	from := 0
	for p := range cfg.Producers {
		n := per
		if p < extra {
			n++
		}
		lo, hi := from, from+n
		from = hi
		wg.Go(func() { errs[p] = r.produce(ctx, c, queue, lo, hi) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// produce enqueues jobs lo..hi-1, one per call or in batches.
func (r *run) produce(ctx context.Context, c *asyncmq.Client, queue string, lo, hi int) error {
	opt := []asyncmq.EnqueueOption{asyncmq.Queue(queue)}
	if !r.cfg.Bulk {
		for i := lo; i < hi; i++ {
			if _, err := c.Enqueue(ctx, task, payload(i), opt...); err != nil {
				return fmt.Errorf("enqueue job %d: %w", i, err)
			}
		}
		return nil
	}
	reqs := make([]asyncmq.Request, 0, r.cfg.BatchSize)
	for start := lo; start < hi; start += r.cfg.BatchSize {
		reqs = reqs[:0]
		for i := start; i < min(start+r.cfg.BatchSize, hi); i++ {
			reqs = append(reqs, asyncmq.Request{Task: task, Payload: payload(i), Options: opt})
		}
		if _, err := c.EnqueueMany(ctx, reqs); err != nil {
			return fmt.Errorf("enqueue jobs %d..%d: %w", start, start+len(reqs)-1, err)
		}
	}
	return nil
}

// pace enqueues one job per call on the schedule of Config.Rate: the producers share one
// sequence of job numbers, and job k waits until k/Rate seconds after the start. A producer that
// falls behind the schedule does not sleep until it has caught up, so the achieved rate
// (EnqueueJobsPerSec) shows when the store could not keep up.
func (r *run) pace(ctx context.Context, c *asyncmq.Client, queue string) error {
	opt := []asyncmq.EnqueueOption{asyncmq.Queue(queue)}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		k := r.next.Add(1) - 1
		if k >= int64(r.cfg.Jobs) {
			return nil
		}
		// Beyond a year the conversion to a Duration could overflow; no run waits that long.
		at := r.t0.Add(time.Duration(min(float64(k)/r.cfg.Rate, 365*24*3600) * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return fmt.Errorf("enqueue job %d: %w", k, ctx.Err())
			}
		}
		if _, err := c.Enqueue(ctx, task, payload(int(k)), opt...); err != nil {
			return fmt.Errorf("enqueue job %d: %w", k, err)
		}
	}
}

// payload is a small JSON document, as a typical job argument.
func payload(i int) json.RawMessage {
	return json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)
}

// percentile returns the p-quantile of sorted durations in milliseconds (nearest rank).
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}
