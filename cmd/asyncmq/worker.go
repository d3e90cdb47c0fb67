package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/demo"
)

// defaultWorkerQueues is what `asyncmq worker` serves without --queues: the default queue and the
// demo's, so that it works beside `asyncmq serve --demo --workers 0`.
var defaultWorkerQueues = strings.Join(append([]string{asyncmq.DefaultQueue}, demo.Queues...), ",")

func newWorkerCmd(a *app) *cobra.Command {
	var (
		queues      string
		concurrency int
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker for the demo tasks until SIGINT or SIGTERM",
		Long: `Run a worker until SIGINT or SIGTERM, then shut down gracefully: stop claiming, let running
jobs finish within the grace period, and hand the rest back for another worker.

The binary knows the demo tasks (see "asyncmq serve --demo"); jobs of other tasks fail at once
with "no handler". Applications run their own tasks with asyncmq.NewWorker in their binary.

  asyncmq worker --queues critical=20,default=5`,
		Args: cobra.NoArgs,
		RunE: a.action(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if err := cli.BindEnv(cmd.Flags(), a.getenv, "queues", "concurrency"); err != nil {
				return err
			}
			if concurrency < 1 {
				return cli.Usagef("--concurrency %d: must be at least 1", concurrency)
			}
			qs, err := cli.ParseQueues(queues, concurrency)
			if err != nil {
				return cli.Usagef("--queues (%s): %w", cli.EnvName("queues"), err)
			}
			b, err := a.openBackend(ctx, true)
			if err != nil {
				return err
			}
			defer b.Close()
			mux := asyncmq.NewServeMux()
			(&demo.Handlers{}).Register(mux)
			w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{Queues: qs, Logger: a.log})
			if err != nil {
				return cli.AsUsage(err)
			}
			a.log.Info("worker starting", "id", w.ID(), "queues", cli.FormatQueues(qs))
			if err := w.Run(ctx); err != nil {
				return fmt.Errorf("run worker: %w", err)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&queues, "queues", defaultWorkerQueues, "queues to serve, with optional concurrency each: q1=10,q2=5 (env ASYNCMQ_QUEUES)")
	f.IntVar(&concurrency, "concurrency", 10, "concurrency of each queue listed without =N (env ASYNCMQ_CONCURRENCY)")
	return cmd
}
