package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/cli"
)

func newRepeatableCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repeatable",
		Short: "List, create, pause, resume and remove repeatable jobs (cron or interval)",
		RunE:  group,
	}
	var queue string
	list := &cobra.Command{
		Use:   "list",
		Short: "List repeatable definitions",
		Args:  cobra.NoArgs,
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				rs, err := insp.Repeatables(ctx, queue)
				if err != nil {
					return err
				}
				if rs == nil {
					rs = []asyncmqtype.Repeatable{}
				}
				return a.print(rs, func(w io.Writer) error {
					t := &cli.Table{Header: []string{"ID", "QUEUE", "TASK", "SCHEDULE", "PAUSED", "NEXT RUN", "LAST RUN"}}
					for _, r := range rs {
						t.Append(r.ID, r.Queue, r.Task, schedule(r), r.Paused, r.NextRun, r.LastRun)
					}
					return t.Write(w)
				})
			})
		}),
	}
	list.Flags().StringVar(&queue, "queue", "", "only this queue")

	cmd.AddCommand(list, newRepeatableCreateCmd(a),
		repeatableActionCmd(a, "pause", "Stop a definition from creating jobs", (*asyncmq.Inspector).PauseRepeatable),
		repeatableActionCmd(a, "resume", "Let a paused definition create jobs again", (*asyncmq.Inspector).ResumeRepeatable),
		repeatableActionCmd(a, "remove", "Delete a definition (jobs it created stay)", (*asyncmq.Inspector).RemoveRepeatable),
	)
	return cmd
}

func schedule(r asyncmqtype.Repeatable) string {
	if r.Cron != "" {
		return r.Cron
	}
	return "every " + r.Interval.String()
}

func newRepeatableCreateCmd(a *app) *cobra.Command {
	var (
		spec                 asyncmq.RepeatableSpec
		every                time.Duration
		priority, maxRetries int
	)
	cmd := &cobra.Command{
		Use:   "create <task> [payload JSON] (--cron EXPR | --every D)",
		Short: "Create or replace a repeatable definition",
		Long: `Create a definition that enqueues a job of <task> on a cron schedule or at a fixed interval.
A definition with the same ID (by default derived from queue, task and schedule) is replaced.

  asyncmq repeatable create reports.daily --queue reports --cron "0 6 * * *"
  asyncmq repeatable create cache.warm '{"keys":100}' --every 5m`,
		Args: cobra.RangeArgs(1, 2),
		RunE: a.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			spec.Task = args[0]
			everySet := cmd.Flags().Changed("every")
			if everySet && every <= 0 {
				return cli.Usagef("--every %s: the interval must be positive", every)
			}
			if cmd.Flags().Changed("priority") {
				spec.Priority = &priority
			}
			if cmd.Flags().Changed("max-retries") {
				if maxRetries < 0 {
					return cli.Usagef("--max-retries %d: must not be negative", maxRetries)
				}
				spec.MaxRetries = &maxRetries
			}
			if len(args) == 2 {
				if !json.Valid([]byte(args[1])) {
					return cli.Usagef("payload %s: not valid JSON", truncate(args[1], 40))
				}
				spec.Payload = json.RawMessage(args[1])
			}
			if (spec.Cron == "") == !everySet {
				return cli.Usagef("give exactly one of --cron and --every")
			}
			if spec.Cron != "" {
				if err := asyncmq.ValidateCron(spec.Cron); err != nil {
					return cli.Usagef("--cron: %w", err)
				}
			}
			spec.Interval = every
			return a.withStore(ctx, true, func(insp *asyncmq.Inspector) error {
				r, err := insp.CreateRepeatable(ctx, spec)
				if err != nil {
					return cli.AsUsage(err)
				}
				return a.print(r, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "repeatable %q: %s on queue %q (%s), next run %s\n", r.ID, r.Task, r.Queue, schedule(r), cli.Cell(r.NextRun))
					return err
				})
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&spec.ID, "id", "", "definition ID (default derived from queue, task and schedule)")
	f.StringVar(&spec.Queue, "queue", asyncmq.DefaultQueue, "queue of the jobs")
	f.StringVar(&spec.Cron, "cron", "", `cron expression ("*/5 * * * *", "@hourly", "@every 90s"), in UTC`)
	f.DurationVar(&every, "every", 0, "fixed interval (at least 1s)")
	f.BoolVar(&spec.Paused, "paused", false, "create it paused")
	f.IntVar(&priority, "priority", asyncmq.DefaultPriority, "priority of the jobs it creates (lower runs first)")
	f.IntVar(&maxRetries, "max-retries", asyncmq.DefaultMaxRetries, "retries of each job it creates after a failure")
	return cmd
}

func repeatableActionCmd(a *app, verb, short string, fn func(*asyncmq.Inspector, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " <id>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				if err := fn(insp, ctx, args[0]); err != nil {
					return err
				}
				return a.print(map[string]string{"id": args[0], "action": verb}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "repeatable %q: %s done\n", args[0], verb)
					return err
				})
			})
		}),
	}
}
