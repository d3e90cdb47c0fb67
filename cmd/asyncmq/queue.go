package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/cli"
)

func newQueueCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List, inspect, pause, resume, rate-limit, drain, clean and delete queues",
		RunE:  group,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List queues with their job counts per state",
			Args:  cobra.NoArgs,
			RunE: a.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
				return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
					qs, err := insp.Queues(ctx)
					if err != nil {
						return err
					}
					if qs == nil {
						qs = []asyncmqtype.QueueInfo{}
					}
					return a.print(qs, func(w io.Writer) error { return queueTable(qs).Write(w) })
				})
			}),
		},
		&cobra.Command{
			Use:   "info <queue>",
			Short: "Show one queue: paused, rate limit and job counts",
			Args:  cobra.ExactArgs(1),
			RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
				return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
					q, err := insp.Queue(ctx, args[0])
					if err != nil {
						return err
					}
					return a.print(q, func(w io.Writer) error {
						pairs := []any{"name", q.Name, "paused", q.Paused}
						if q.RateLimit > 0 {
							pairs = append(pairs, "rate limit", fmt.Sprintf("%d per %s", q.RateLimit, q.RateInterval))
						}
						for _, s := range asyncmqtype.States {
							pairs = append(pairs, string(s), q.Counts[s])
						}
						return cli.KeyValues(w, append(pairs, "total", q.Total())...)
					})
				})
			}),
		},
		queueToggleCmd(a, "pause", "Stop every worker from taking the queue's jobs", (*asyncmq.Inspector).PauseQueue),
		queueToggleCmd(a, "resume", "Let workers take the queue's jobs again", (*asyncmq.Inspector).ResumeQueue),
		newQueueRateLimitCmd(a),
		newQueueDrainCmd(a),
		newQueueCleanCmd(a),
		newQueueObliterateCmd(a),
	)
	return cmd
}

func queueTable(qs []asyncmqtype.QueueInfo) *cli.Table {
	t := &cli.Table{Header: []string{"QUEUE", "PAUSED"}}
	for _, s := range asyncmqtype.States {
		t.Header = append(t.Header, strings.ToUpper(string(s)))
	}
	t.Header = append(t.Header, "TOTAL")
	for _, q := range qs {
		row := []any{q.Name, q.Paused}
		for _, s := range asyncmqtype.States {
			row = append(row, q.Counts[s])
		}
		t.Append(append(row, q.Total())...)
	}
	return t
}

// queueResult is the --json answer of the queue commands that change something.
type queueResult struct {
	Queue   string `json:"queue"`
	Action  string `json:"action"`
	Deleted *int   `json:"deleted,omitempty"`
}

func queueToggleCmd(a *app, verb, short string, fn func(*asyncmq.Inspector, context.Context, string) error) *cobra.Command {
	var create bool
	cmd := &cobra.Command{
		Use:   verb + " <queue>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.withStore(ctx, create, func(insp *asyncmq.Inspector) error {
				// A store creates a queue it is told to pause; a typo must not leave a phantom
				// paused queue behind.
				if !create {
					if err := requireQueue(ctx, insp, args[0]); err != nil {
						return err
					}
				}
				err := fn(insp, ctx, args[0])
				a.audit(ctx, insp, "queue."+verb, args[0], "", "", err)
				if err != nil {
					return err
				}
				return a.print(queueResult{Queue: args[0], Action: verb}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "queue %q %sd\n", args[0], verb)
					return err
				})
			})
		}),
	}
	cmd.Flags().BoolVar(&create, "create", false, "create the queue if it does not exist yet")
	return cmd
}

// requireQueue returns a runtime error naming the queue when it does not exist.
func requireQueue(ctx context.Context, insp *asyncmq.Inspector, name string) error {
	_, err := insp.Queue(ctx, name)
	if errors.Is(err, asyncmqtype.ErrQueueNotFound) {
		return fmt.Errorf("queue %q not found (add --create to create it)", name)
	}
	return err
}

// maxRateLimit bounds --limit; the stores keep it in an int.
const maxRateLimit = 1_000_000_000

func newQueueRateLimitCmd(a *app) *cobra.Command {
	var (
		limit int
		per   time.Duration
		off   bool
	)
	cmd := &cobra.Command{
		Use:   "rate-limit <queue> (--limit N [--per 1s] | --off)",
		Short: "Limit how many of the queue's jobs start per interval, across all workers",
		Long: `Limit how many of the queue's jobs start per interval, across every worker of the store.

  asyncmq queue rate-limit emails --limit 10 --per 1s
  asyncmq queue rate-limit emails --off`,
		Args: cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			limitSet := cmd.Flags().Changed("limit")
			switch {
			case off && limitSet:
				return cli.Usagef("give either --limit or --off, not both")
			case !off && !limitSet:
				return cli.Usagef("give --limit N (with --per) or --off")
			case !off && (limit <= 0 || limit > maxRateLimit):
				return cli.Usagef("--limit %d: must be from 1 to %d (use --off to remove the limit)", limit, maxRateLimit)
			case !off && per <= 0:
				return cli.Usagef("--per %s: the interval must be positive", per)
			}
			if off {
				limit, per = 0, 0
			}
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				if err := requireQueue(ctx, insp, args[0]); err != nil {
					return err
				}
				err := insp.SetRateLimit(ctx, args[0], limit, per)
				a.audit(ctx, insp, "queue.rate_limit", args[0], "", fmt.Sprintf("limit=%d per=%s", limit, per), err)
				if err != nil {
					return err
				}
				res := struct {
					Queue    string        `json:"queue"`
					Limit    int           `json:"rate_limit"`
					Interval time.Duration `json:"rate_interval"`
				}{args[0], limit, per}
				return a.print(res, func(w io.Writer) error {
					if off {
						_, err := fmt.Fprintf(w, "queue %q: rate limit removed\n", args[0])
						return err
					}
					_, err := fmt.Fprintf(w, "queue %q: at most %d jobs per %s\n", args[0], limit, per)
					return err
				})
			})
		}),
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 0, "jobs that may start per interval")
	f.DurationVar(&per, "per", time.Second, "the interval")
	f.BoolVar(&off, "off", false, "remove the queue's rate limit")
	return cmd
}

func newQueueDrainCmd(a *app) *cobra.Command {
	var includeDelayed, yes bool
	cmd := &cobra.Command{
		Use:   "drain <queue>",
		Short: "Delete the queue's waiting and waiting-children jobs (and delayed ones with --include-delayed)",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			what := "waiting and waiting-children"
			if includeDelayed {
				what = "waiting, waiting-children and delayed"
			}
			if err := a.confirm(yes, fmt.Sprintf("Delete every %s job of queue %q?", what, args[0])); err != nil {
				return err
			}
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				spin := cli.StartSpinner(a.errOut, "draining queue "+args[0])
				n, err := insp.Drain(ctx, args[0], includeDelayed)
				spin.Stop()
				a.audit(ctx, insp, "queue.drain", args[0], "", fmt.Sprintf("include_delayed=%t deleted=%d", includeDelayed, n), err)
				if err != nil {
					return err
				}
				return a.print(queueResult{Queue: args[0], Action: "drain", Deleted: &n}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "drained queue %q: %d jobs deleted\n", args[0], n)
					return err
				})
			})
		}),
	}
	cmd.Flags().BoolVar(&includeDelayed, "include-delayed", false, "also delete delayed jobs")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation on a terminal")
	return cmd
}

func newQueueCleanCmd(a *app) *cobra.Command {
	var (
		state string
		grace time.Duration
		limit int
	)
	cmd := &cobra.Command{
		Use:   "clean <queue> --state completed|failed|cancelled",
		Short: "Delete finished jobs of one state older than --grace",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			s := asyncmqtype.State(state)
			if !s.Terminal() {
				return cli.Usagef("--state %q: want completed, failed or cancelled", state)
			}
			if grace < 0 {
				return cli.Usagef("--grace %s: must not be negative", grace)
			}
			if limit < 0 {
				return cli.Usagef("--limit %d: must not be negative (0 = no limit)", limit)
			}
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				spin := cli.StartSpinner(a.errOut, "cleaning queue "+args[0])
				n, err := insp.CleanInBatches(ctx, args[0], s, grace, limit, func(deleted int) {
					spin.SetDetail(fmt.Sprintf("%d deleted", deleted))
				})
				spin.Stop()
				a.audit(ctx, insp, "queue.clean", args[0], "", fmt.Sprintf("state=%s grace=%s limit=%d deleted=%d", s, grace, limit, n), err)
				if err != nil {
					return err
				}
				return a.print(queueResult{Queue: args[0], Action: "clean", Deleted: &n}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "cleaned queue %q: %d %s jobs deleted\n", args[0], n, s)
					return err
				})
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&state, "state", "", "state of the jobs to delete: completed, failed or cancelled (required)")
	f.DurationVar(&grace, "grace", 0, "only delete jobs finished longer ago than this")
	f.IntVar(&limit, "limit", 0, "delete at most this many jobs, oldest first (0 = every matching job, in batches of 10,000)")
	return cmd
}

func newQueueObliterateCmd(a *app) *cobra.Command {
	var force, yes bool
	cmd := &cobra.Command{
		Use:   "obliterate <queue>",
		Short: "Delete a queue with all its jobs, settings and repeatables",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			if err := a.confirm(yes, fmt.Sprintf("Delete queue %q with all its jobs, settings and repeatables?", args[0])); err != nil {
				return err
			}
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				spin := cli.StartSpinner(a.errOut, "obliterating queue "+args[0])
				err := insp.Obliterate(ctx, args[0], force)
				spin.Stop()
				a.audit(ctx, insp, "queue.obliterate", args[0], "", fmt.Sprintf("force=%t", force), err)
				if err != nil {
					if errors.Is(err, asyncmqtype.ErrQueueActive) {
						return fmt.Errorf("%w (add --force to delete it anyway)", err)
					}
					return err
				}
				return a.print(queueResult{Queue: args[0], Action: "obliterate"}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "obliterated queue %q\n", args[0])
					return err
				})
			})
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even while jobs are active")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation on a terminal")
	return cmd
}
