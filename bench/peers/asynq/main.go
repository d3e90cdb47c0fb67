// Command asynq-bench measures github.com/hibiken/asynq the way "asyncmq bench" measures asyncmq:
// no-op jobs enqueued by --producers goroutines (one job per call), then processed by one server
// at --concurrency, and it prints the same JSON fields (enqueue and process jobs/s, enqueue-to-
// start latency). It lives in its own module so that asyncmq itself never depends on asynq.
//
//	go run . --redis redis://127.0.0.1:6379/6 --jobs 20000 --producers 50 --concurrency 50
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

// result has the JSON shape of asyncmq's internal/bench.Result.
type result struct {
	Backend           string  `json:"backend"`
	Queue             string  `json:"queue"`
	Jobs              int     `json:"jobs"`
	Producers         int     `json:"producers"`
	Concurrency       int     `json:"concurrency"`
	Bulk              bool    `json:"bulk"`
	Overlap           bool    `json:"overlap,omitempty"`
	EnqueueSeconds    float64 `json:"enqueue_s"`
	EnqueueJobsPerSec float64 `json:"enqueue_jobs_per_s"`
	ProcessSeconds    float64 `json:"process_s"`
	ProcessJobsPerSec float64 `json:"process_jobs_per_s"`
	LatencyP50Ms      float64 `json:"latency_p50_ms"`
	LatencyP99Ms      float64 `json:"latency_p99_ms"`
}

const taskType = "bench:noop"

type args struct {
	N int   `json:"n"`
	T int64 `json:"t"` // enqueue time, Unix ns, for the latency
}

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/6", "Redis URL")
	jobs := flag.Int("jobs", 20000, "number of jobs")
	producers := flag.Int("producers", 50, "concurrent producers, one job per Enqueue call")
	concurrency := flag.Int("concurrency", 50, "server concurrency")
	overlap := flag.Bool("overlap", false, "start the server before enqueueing")
	flag.Parse()
	res, err := run(context.Background(), *redisURL, *jobs, *producers, *concurrency, *overlap)
	if err != nil {
		fmt.Fprintln(os.Stderr, "asynq-bench:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
}

func run(ctx context.Context, redisURL string, jobs, producers, concurrency int, overlap bool) (result, error) {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return result{}, fmt.Errorf("redis URL: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	queue := "bench-" + hex.EncodeToString(suffix[:])
	res := result{Backend: "asynq " + redisURL, Queue: queue, Jobs: jobs, Producers: producers, Concurrency: concurrency, Overlap: overlap}

	latencies := make([]time.Duration, jobs)
	var started, handled atomic.Int64
	allHandled := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc(taskType, func(ctx context.Context, t *asynq.Task) error {
		var a args
		if err := json.Unmarshal(t.Payload(), &a); err != nil {
			return err
		}
		if i := started.Add(1) - 1; i < int64(len(latencies)) {
			latencies[i] = time.Since(time.Unix(0, a.T))
		}
		if handled.Add(1) == int64(jobs) {
			close(allHandled)
		}
		return nil
	})
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: concurrency,
		Queues:      map[string]int{queue: 1},
		LogLevel:    asynq.ErrorLevel,
	})
	var processStart time.Time
	startServer := func() error {
		processStart = time.Now()
		return srv.Start(mux)
	}
	if overlap {
		if err := startServer(); err != nil {
			return res, err
		}
	}

	client := asynq.NewClient(opt)
	defer client.Close()
	enqueueStart := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	per, extra := jobs/producers, jobs%producers
	from := 0
	for p := range producers {
		n := per
		if p < extra {
			n++
		}
		lo, hi := from, from+n
		from = hi
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				b, _ := json.Marshal(args{N: i, T: time.Now().UnixNano()})
				if _, err := client.EnqueueContext(ctx, asynq.NewTask(taskType, b), asynq.Queue(queue), asynq.MaxRetry(3)); err != nil {
					errs <- fmt.Errorf("enqueue job %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	res.EnqueueSeconds = time.Since(enqueueStart).Seconds()
	res.EnqueueJobsPerSec = float64(jobs) / res.EnqueueSeconds

	if !overlap {
		if err := startServer(); err != nil {
			return res, err
		}
	}
	<-allHandled
	// The last handler has returned; wait until the server has recorded every outcome.
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	for {
		qi, err := insp.GetQueueInfo(queue)
		if err == nil && qi.Pending == 0 && qi.Active == 0 && qi.Retry == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	res.ProcessSeconds = time.Since(processStart).Seconds()
	res.ProcessJobsPerSec = float64(jobs) / res.ProcessSeconds
	srv.Shutdown()
	_ = insp.DeleteQueue(queue, true)

	lat := latencies[:min(int(started.Load()), len(latencies))]
	slices.Sort(lat)
	res.LatencyP50Ms = percentile(lat, 0.50)
	res.LatencyP99Ms = percentile(lat, 0.99)
	return res, nil
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
