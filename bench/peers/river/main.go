// Command river-bench measures River (github.com/riverqueue/river) the way `asyncmq bench`
// measures asyncmq, and prints the same JSON shape as `asyncmq bench --json`, so the two can be
// compared on one machine in one run. It lives in its own module so that asyncmq itself does not
// depend on River.
//
// River is tuned as its own `river bench` tunes it: FetchCooldown 2ms, FetchPollInterval 20ms.
// Jobs are no-ops; producers insert one job per call (or InsertMany batches with -bulk); the
// worker phase starts after every job is inserted, and ends when the last completion is stored.
//
//	go run . -url postgres://postgres@127.0.0.1:5432/riverbench -jobs 20000 -producers 50 -concurrency 50
//
// The database must exist; River's migrations are applied to it, and its river_job table is
// emptied before the run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// noopArgs is the benchmark's job: it carries its enqueue time to measure the latency.
type noopArgs struct {
	EnqueuedAt time.Time `json:"enqueued_at"`
}

func (noopArgs) Kind() string { return "bench.noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	mu        sync.Mutex
	latencies []time.Duration
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	d := time.Since(job.Args.EnqueuedAt)
	w.mu.Lock()
	w.latencies = append(w.latencies, d)
	w.mu.Unlock()
	return nil
}

// result has the fields and JSON names of asyncmq's internal/bench.Result.
type result struct {
	Backend           string  `json:"backend"`
	Queue             string  `json:"queue"`
	Jobs              int     `json:"jobs"`
	Producers         int     `json:"producers"`
	Concurrency       int     `json:"concurrency"`
	Bulk              bool    `json:"bulk"`
	EnqueueSeconds    float64 `json:"enqueue_s"`
	EnqueueJobsPerSec float64 `json:"enqueue_jobs_per_s"`
	ProcessSeconds    float64 `json:"process_s"`
	ProcessJobsPerSec float64 `json:"process_jobs_per_s"`
	LatencyP50Ms      float64 `json:"latency_p50_ms"`
	LatencyP99Ms      float64 `json:"latency_p99_ms"`
}

func main() {
	url := flag.String("url", "postgres://postgres@127.0.0.1:5432/riverbench?sslmode=disable", "PostgreSQL URL of the database River uses")
	jobs := flag.Int("jobs", 20000, "number of jobs")
	producers := flag.Int("producers", 50, "concurrent producers inserting one job per call")
	concurrency := flag.Int("concurrency", 50, "MaxWorkers of the queue")
	bulk := flag.Bool("bulk", false, "insert with InsertMany in batches of 1000")
	flag.Parse()
	res, err := run(context.Background(), *url, *jobs, *producers, *concurrency, *bulk)
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url string, jobs, producers, concurrency int, bulk bool) (result, error) {
	res := result{Backend: "river", Queue: river.QueueDefault, Jobs: jobs, Producers: producers, Concurrency: concurrency, Bulk: bulk}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return res, fmt.Errorf("river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return res, fmt.Errorf("migrate river schema: %w", err)
	}
	if _, err := pool.Exec(ctx, "TRUNCATE river_job"); err != nil {
		return res, fmt.Errorf("empty river_job: %w", err)
	}

	worker := &noopWorker{}
	workers := river.NewWorkers()
	river.AddWorker(workers, worker)
	client, err := river.NewClient(driver, &river.Config{
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: concurrency}},
		Workers:           workers,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return res, fmt.Errorf("river client: %w", err)
	}

	start := time.Now()
	if bulk {
		for done := 0; done < jobs; {
			n := min(1000, jobs-done)
			params := make([]river.InsertManyParams, n)
			for i := range params {
				params[i] = river.InsertManyParams{Args: noopArgs{EnqueuedAt: time.Now()}}
			}
			if _, err := client.InsertMany(ctx, params); err != nil {
				return res, fmt.Errorf("insert many: %w", err)
			}
			done += n
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, producers)
		for range producers {
			wg.Go(func() {
				for next.Add(1) <= int64(jobs) {
					if _, err := client.Insert(ctx, noopArgs{EnqueuedAt: time.Now()}, nil); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return res, fmt.Errorf("insert: %w", err)
		}
	}
	res.EnqueueSeconds = time.Since(start).Seconds()
	res.EnqueueJobsPerSec = float64(jobs) / res.EnqueueSeconds

	start = time.Now()
	if err := client.Start(ctx); err != nil {
		return res, fmt.Errorf("start river client: %w", err)
	}
	// Completions are counted in the table: River's event subscription drops events when its
	// buffer is full, which it is at high concurrency.
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&n); err != nil {
			return res, fmt.Errorf("count completed jobs: %w", err)
		}
		if n >= jobs {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return res, fmt.Errorf("only %d of %d jobs completed within 5 minutes", n, jobs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.ProcessSeconds = time.Since(start).Seconds()
	res.ProcessJobsPerSec = float64(jobs) / res.ProcessSeconds
	stopCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := client.Stop(stopCtx); err != nil {
		return res, fmt.Errorf("stop river client: %w", err)
	}
	worker.mu.Lock()
	res.LatencyP50Ms, res.LatencyP99Ms = percentile(worker.latencies, 0.50), percentile(worker.latencies, 0.99)
	worker.mu.Unlock()
	return res, nil
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}
