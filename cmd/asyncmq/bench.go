package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq/internal/bench"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/redact"
)

func newBenchCmd(a *app) *cobra.Command {
	var cfg bench.Config
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure enqueue and processing throughput and latency on a backend",
		Long: `Enqueue --jobs no-op jobs from --producers goroutines (or in bulk batches with --bulk), then
process them with one worker at --concurrency, and report enqueue and process jobs/s and the
enqueue-to-start latency. Each run uses a fresh queue; its jobs stay in the store.

  asyncmq bench --backend memory:// --jobs 20000 --concurrency 50 --json`,
		Args: cobra.NoArgs,
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			switch {
			case cfg.Jobs < 1:
				return cli.Usagef("--jobs %d: must be at least 1", cfg.Jobs)
			case cfg.Producers < 1:
				return cli.Usagef("--producers %d: must be at least 1", cfg.Producers)
			case cfg.Concurrency < 1:
				return cli.Usagef("--concurrency %d: must be at least 1", cfg.Concurrency)
			case cfg.BatchSize < 1:
				return cli.Usagef("--batch-size %d: must be at least 1", cfg.BatchSize)
			case cfg.Rate < 0:
				return cli.Usagef("--rate %v: must not be negative", cfg.Rate)
			case cfg.Rate > 0 && cfg.Bulk:
				return cli.Usagef("--rate: paces one job per call; it does not apply with --bulk")
			case cfg.FetchCooldown < 0:
				return cli.Usagef("--fetch-cooldown %s: must not be negative", cfg.FetchCooldown)
			}
			b, err := a.openBackend(ctx, true)
			if err != nil {
				return err
			}
			defer b.Close()
			// The worker's own logs are left out: a bench run reports figures, and errors are returned.
			cfg.BackendName = redact.URL(a.backendURL)
			if cpuProfile != "" {
				pf, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
			}
			spin := cli.StartSpinner(a.errOut, "benchmarking")
			res, err := bench.Run(ctx, b, cfg)
			spin.Stop()
			if cpuProfile != "" {
				// Stopped before printing, so the profile holds the run only.
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			return a.print(res, func(w io.Writer) error {
				mode := fmt.Sprintf("%d producers", cfg.Producers)
				if cfg.Bulk {
					mode = "bulk"
				}
				if cfg.Rate > 0 {
					mode += fmt.Sprintf(", paced at %g jobs/s", cfg.Rate)
				}
				return cli.KeyValues(w,
					"backend", cfg.BackendName,
					"jobs", fmt.Sprintf("%d (%s, concurrency %d)", cfg.Jobs, mode, cfg.Concurrency),
					"enqueue", fmt.Sprintf("%.0f jobs/s", res.EnqueueJobsPerSec),
					"process", fmt.Sprintf("%.0f jobs/s", res.ProcessJobsPerSec),
					"latency p50", fmt.Sprintf("%.2f ms", res.LatencyP50Ms),
					"latency p99", fmt.Sprintf("%.2f ms", res.LatencyP99Ms),
				)
			})
		}),
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Jobs, "jobs", 10000, "number of jobs")
	f.IntVar(&cfg.Producers, "producers", 1, "concurrent producers enqueueing one job per call")
	f.IntVar(&cfg.Concurrency, "concurrency", 50, "worker concurrency")
	f.BoolVar(&cfg.Bulk, "bulk", false, "enqueue in batches with EnqueueMany instead of one job per call")
	f.IntVar(&cfg.BatchSize, "batch-size", bench.DefaultBatchSize, "jobs per EnqueueMany call with --bulk")
	f.DurationVar(&cfg.FetchCooldown, "fetch-cooldown", 0, "shortest time between two claims on a busy queue (WorkerConfig.FetchCooldown; default the worker's)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file")
	f.BoolVar(&cfg.Overlap, "overlap", false, "start the worker before enqueueing, so latency excludes the backlog")
	f.Float64Var(&cfg.Rate, "rate", 0, "enqueue at most this many jobs/s over all producers (0: as fast as they can); with --overlap, latency at a steady load")
	return cmd
}
