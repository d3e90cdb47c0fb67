package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/cli"
)

func newEnqueueCmd(a *app) *cobra.Command {
	var (
		queue      string
		delay      time.Duration
		priority   int
		maxRetries int
		unique     string
		uniqueTTL  time.Duration
		dependsOn  []string
		onParent   string
		headers    []string
	)
	cmd := &cobra.Command{
		Use:   "enqueue <task> [payload JSON]",
		Short: "Add a job and print its ID",
		Long: `Add a job for a task and print its ID (with --json, the stored job).

The payload is a JSON value; "-" reads it from standard input. Without one the payload is null.
  asyncmq enqueue email.send '{"to":"a@example.com"}' --queue mail --delay 10s

With --depends-on the job waits (state waiting-children) until those jobs complete; should one of
them fail or be cancelled, --on-parent-failure says what happens to it: fail (the default), cancel,
or wait for the parent's retry.
  asyncmq enqueue report.send --depends-on 01J... --on-parent-failure cancel

--header NAME=VALUE stores a header with the job, for its handler (Job.Header); repeat it for
more. Names are letters, digits, '-', '_' and '.'; the value is everything after the first '='.
  asyncmq enqueue report.send --header tenant=acme --header traceparent=00-...`,
		Args: cobra.RangeArgs(1, 2),
		RunE: a.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
			task := args[0]
			var payload any // nil: the job has no payload
			if len(args) == 2 {
				raw := []byte(args[1])
				if args[1] == "-" {
					var err error
					if raw, err = io.ReadAll(a.in); err != nil {
						return fmt.Errorf("read payload from standard input: %w", err)
					}
				}
				if !json.Valid(raw) {
					return cli.Usagef("payload %s: not valid JSON", truncate(string(raw), 40))
				}
				payload = json.RawMessage(raw)
			}
			f := cmd.Flags()
			var opts []asyncmq.EnqueueOption
			if queue == "" {
				return cli.Usagef("--queue: must not be empty")
			}
			opts = append(opts, asyncmq.Queue(queue))
			if f.Changed("delay") {
				if delay < 0 {
					return cli.Usagef("--delay %s: must not be negative", delay)
				}
				opts = append(opts, asyncmq.Delay(delay))
			}
			if f.Changed("priority") {
				opts = append(opts, asyncmq.Priority(priority))
			}
			if f.Changed("max-retries") {
				if maxRetries < 0 {
					return cli.Usagef("--max-retries %d: must not be negative", maxRetries)
				}
				opts = append(opts, asyncmq.MaxRetries(maxRetries))
			}
			if unique != "" {
				if uniqueTTL <= 0 {
					return cli.Usagef("--unique-ttl %s: must be positive with --unique", uniqueTTL)
				}
				opts = append(opts, asyncmq.Unique(unique, uniqueTTL))
			} else if f.Changed("unique-ttl") {
				return cli.Usagef("--unique-ttl needs --unique")
			}
			if len(dependsOn) > 0 {
				opts = append(opts, asyncmq.DependsOn(dependsOn...))
			}
			if f.Changed("on-parent-failure") {
				if len(dependsOn) == 0 {
					return cli.Usagef("--on-parent-failure needs --depends-on")
				}
				if err := asyncmqtype.ValidateParentFailure(asyncmqtype.ParentFailure(onParent)); err != nil {
					return cli.Usagef("--on-parent-failure %q: want fail, cancel or wait", onParent)
				}
				opts = append(opts, asyncmq.OnParentFailure(asyncmqtype.ParentFailure(onParent)))
			}
			if len(headers) > 0 {
				h, err := parseHeaders(headers)
				if err != nil {
					return err
				}
				opts = append(opts, asyncmq.Headers(h))
			}
			b, err := a.openBackend(ctx, true)
			if err != nil {
				return err
			}
			defer b.Close()
			job, err := asyncmq.NewClient(b).Enqueue(ctx, task, payload, opts...)
			if errors.Is(err, asyncmqtype.ErrInvalid) {
				// A malformed task name or option: nothing was stored.
				return cli.AsUsage(err)
			}
			if err != nil {
				return err
			}
			return a.print(redactedJob(job), func(w io.Writer) error {
				_, err := fmt.Fprintln(w, job.ID)
				return err
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&queue, "queue", "default", "queue to add the job to")
	f.DurationVar(&delay, "delay", 0, "run the job no sooner than this from now")
	f.IntVar(&priority, "priority", 5, "priority among waiting jobs: lower runs first")
	f.IntVar(&maxRetries, "max-retries", 3, "times a failed job is retried")
	f.StringVar(&unique, "unique", "", "unique key: refuse another job with this key in the queue until --unique-ttl passes")
	f.DurationVar(&uniqueTTL, "unique-ttl", time.Hour, "how long --unique holds")
	f.StringSliceVar(&dependsOn, "depends-on", nil, "IDs of jobs (of the same queue) that must complete first; repeat or separate with commas")
	f.StringVar(&onParent, "on-parent-failure", string(asyncmqtype.ParentFailureFail),
		"when a --depends-on job fails or is cancelled: fail, cancel or wait (for its retry)")
	f.StringArrayVar(&headers, "header", nil, "header NAME=VALUE stored with the job; repeat for more")
	return cmd
}

// parseHeaders reads --header NAME=VALUE flags; a malformed one or a name given twice is a usage
// error naming the flag.
func parseHeaders(flags []string) (map[string]string, error) {
	h := make(map[string]string, len(flags))
	for _, kv := range flags {
		// Errors name the header, never its value, which may be a credential.
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, cli.Usagef("--header %q: want NAME=VALUE", truncate(kv, 40))
		case k == "":
			return nil, cli.Usagef("--header with an empty name: want NAME=VALUE")
		}
		if _, dup := h[k]; dup {
			return nil, cli.Usagef("--header %q given twice", k)
		}
		h[k] = v
	}
	if err := backend.ValidateHeaders(h); err != nil {
		return nil, cli.Usagef("--header: %v", err)
	}
	return h, nil
}
