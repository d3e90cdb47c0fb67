package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/redact"
)

func newJobCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "List, inspect, retry, remove, cancel and promote jobs",
		RunE:  group,
	}
	cmd.AddCommand(
		newJobListCmd(a),
		newJobInspectCmd(a),
		jobActionCmd(a, asyncmqtype.ActionRetry, "Move failed, cancelled or completed jobs back to waiting"),
		jobActionCmd(a, asyncmqtype.ActionRemove, "Delete jobs (an active job is cancelled instead)"),
		jobActionCmd(a, asyncmqtype.ActionCancel, "Cancel waiting or delayed jobs, or ask the worker running an active one to stop"),
		jobActionCmd(a, asyncmqtype.ActionPromote, "Make delayed jobs run now"),
	)
	return cmd
}

// jobPage is the --json answer of job list.
type jobPage struct {
	Queue string                 `json:"queue"`
	State asyncmqtype.State      `json:"state"`
	Page  int                    `json:"page"`
	Size  int                    `json:"size"`
	Total int                    `json:"total"`
	Jobs  []*asyncmqtype.JobInfo `json:"jobs"`
}

func newJobListCmd(a *app) *cobra.Command {
	var (
		p          asyncmqtype.ListJobsParams
		state      string
		sort       string
		page, size int
	)
	cmd := &cobra.Command{
		Use:   "list --queue Q --state S",
		Short: "List one page of a queue's jobs in one state",
		Args:  cobra.NoArgs,
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			if p.Filter.Queue == "" {
				return cli.Usagef("--queue is required")
			}
			p.Filter.State = asyncmqtype.State(state)
			if !p.Filter.State.Valid() {
				return cli.Usagef("--state %q: want one of %s", state, statesList())
			}
			p.Sort = asyncmqtype.Sort(sort)
			if p.Sort != asyncmqtype.SortNewest && p.Sort != asyncmqtype.SortOldest {
				return cli.Usagef("--sort %q: want newest or oldest", sort)
			}
			if page < 1 {
				return cli.Usagef("--page %d: pages start at 1", page)
			}
			if size < 1 || size > asyncmq.MaxPageSize {
				return cli.Usagef("--size %d: want 1 to %d", size, asyncmq.MaxPageSize)
			}
			p.Limit, p.Offset = size, (page-1)*size
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				res, err := insp.Jobs(ctx, p)
				if err != nil {
					return err
				}
				out := jobPage{Queue: p.Filter.Queue, State: p.Filter.State, Page: page, Size: size, Total: res.Total,
					Jobs: make([]*asyncmqtype.JobInfo, len(res.Jobs))}
				for i, j := range res.Jobs {
					out.Jobs[i] = redactedJob(j)
				}
				return a.print(out, func(w io.Writer) error {
					t := &cli.Table{Header: []string{"ID", "TASK", "STATE", "PRIORITY", "ATTEMPTS", "CREATED", "RUN AT", "LAST ERROR"}}
					for _, j := range res.Jobs {
						lastErr := ""
						if e := j.LastError(); e != nil {
							lastErr = truncate(e.Error, 60)
						}
						t.Append(j.ID, j.Task, j.State, j.Priority, fmt.Sprintf("%d/%d", j.Attempts, j.MaxRetries+1), j.CreatedAt, j.RunAt, lastErr)
					}
					if err := t.Write(w); err != nil {
						return err
					}
					pages := (res.Total + size - 1) / size
					_, err := fmt.Fprintf(w, "page %d of %d (%d %s jobs in queue %q)\n", page, max(pages, 1), res.Total, p.Filter.State, p.Filter.Queue)
					return err
				})
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&p.Filter.Queue, "queue", "", "queue to list (required)")
	f.StringVar(&state, "state", string(asyncmqtype.StateWaiting), "job state: "+statesList())
	f.StringVar(&p.Filter.Task, "task", "", "only tasks whose name contains this text")
	f.StringVar(&p.Filter.ID, "id", "", "only jobs whose ID contains this text")
	f.StringVar(&p.Filter.Text, "q", "", "only jobs whose payload contains this text")
	f.IntVar(&page, "page", 1, "page number, from 1")
	f.IntVar(&size, "size", 20, fmt.Sprintf("jobs per page, 1 to %d", asyncmq.MaxPageSize))
	f.StringVar(&sort, "sort", string(asyncmqtype.SortNewest), "order: newest or oldest")
	return cmd
}

func newJobInspectCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect <id>",
		Short: "Show everything stored about one job",
		Args:  cobra.ExactArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				j, err := insp.Job(ctx, args[0])
				if err != nil {
					return err
				}
				parents, err := insp.Parents(ctx, j.ID)
				if err != nil {
					return err
				}
				j = redactedJob(j)
				out := jobDetail{JobInfo: j, Parents: parents}
				return a.print(out, func(w io.Writer) error { return writeJob(w, j, parents) })
			})
		}),
	}
}

// redactedJob returns j, or a copy of it whose secret-looking headers (redact.IsSecretHeader) are
// hidden, for printing.
func redactedJob(j *asyncmqtype.JobInfo) *asyncmqtype.JobInfo {
	if len(j.Headers) == 0 {
		return j
	}
	c := *j
	c.Headers = redact.Headers(j.Headers)
	return &c
}

// jobDetail is the --json answer of job inspect: the stored job and the parents it still waits
// for, with their states.
type jobDetail struct {
	*asyncmqtype.JobInfo
	Parents []asyncmqtype.ParentInfo `json:"parents,omitempty"`
}

func writeJob(w io.Writer, j *asyncmqtype.JobInfo, parents []asyncmqtype.ParentInfo) error {
	pairs := []any{
		"id", j.ID, "queue", j.Queue, "task", j.Task, "state", j.State,
		"priority", j.Priority, "attempts", fmt.Sprintf("%d of %d", j.Attempts, j.MaxRetries+1),
		"created", j.CreatedAt, "run at", j.RunAt, "started", j.StartedAt, "finished", j.FinishedAt,
		"worker", j.WorkerID, "timeout", j.Timeout, "unique key", j.UniqueKey,
		"depends on", j.DependsOn, "repeatable", j.RepeatableID,
		"payload", compactJSON(j.Payload), "result", compactJSON(j.Result), "progress", compactJSON(j.Progress),
	}
	if len(j.DependsOn) > 0 {
		policy := j.OnParentFailure
		if policy == "" {
			policy = asyncmqtype.ParentFailureFail
		}
		pending := make([]string, len(parents))
		for i, p := range parents {
			state := string(p.State)
			if state == "" {
				state = "removed"
			}
			pending[i] = p.ID + " (" + state + ")"
		}
		pairs = append(pairs, "pending parents", strings.Join(pending, ", "), "on parent failure", policy)
	}
	if j.CancelRequested {
		pairs = append(pairs, "cancel requested", true)
	}
	for _, k := range slices.Sorted(maps.Keys(j.Headers)) {
		pairs = append(pairs, "header "+cli.PlainText(k), j.Headers[k])
	}
	if err := cli.KeyValues(w, pairs...); err != nil {
		return err
	}
	for _, e := range j.Errors {
		kind := "error"
		if e.Panic {
			kind = "panic"
		}
		fmt.Fprintf(w, "\nattempt %d %s at %s: %s\n", e.Attempt, kind, cli.Cell(e.At), cli.PlainText(e.Error))
		if e.Stack != "" {
			fmt.Fprintln(w, indent(cli.PlainText(e.Stack), "    "))
		}
	}
	return nil
}

// jobActionResult is the --json answer of retry, remove, cancel and promote.
type jobActionResult struct {
	Action    asyncmqtype.Action `json:"action"`
	Requested int                `json:"requested"`
	Changed   int                `json:"changed"`
}

// applyBatch bounds the IDs sent in one backend call, so a long list shows progress and no single
// statement grows without limit.
const applyBatch = 500

func jobActionCmd(a *app, action asyncmqtype.Action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   string(action) + " <id...>",
		Short: short,
		Long: short + `.

Give job IDs as arguments, or "-" to read them from standard input, one per line:
  asyncmq job list --queue default --state failed --json | jq -r '.jobs[].id' | asyncmq job ` + string(action) + ` -`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			ids, err := readIDs(args, a.in)
			if err != nil {
				return err
			}
			return a.withInspector(ctx, func(insp *asyncmq.Inspector) error {
				res := jobActionResult{Action: action, Requested: len(ids)}
				if len(ids) == 1 {
					// One job: the Inspector says precisely why it did not apply.
					queue := jobQueue(ctx, insp, ids[0]) // before a remove deletes it
					err := oneJobAction(ctx, insp, action, ids[0])
					a.audit(ctx, insp, "job."+string(action), queue, ids[0], "", err)
					if err != nil {
						return err
					}
					res.Changed = 1
				} else {
					prog := cli.NewProgress(a.errOut, string(action), len(ids))
					for start := 0; start < len(ids); start += applyBatch {
						batch := ids[start:min(start+applyBatch, len(ids))]
						n, err := insp.Apply(ctx, asyncmqtype.ApplyParams{Action: action, IDs: batch})
						res.Changed += n
						a.audit(ctx, insp, "job."+string(action), "", "",
							fmt.Sprintf("jobs=%d changed=%d first=%s", len(batch), n, batch[0]), err)
						if err != nil {
							prog.Done()
							return fmt.Errorf("after %d of %d jobs changed: %w", res.Changed, len(ids), err)
						}
						prog.Add(len(batch))
					}
					prog.Done()
				}
				return a.print(res, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "%s: %d of %d jobs changed", action, res.Changed, res.Requested)
					if skipped := res.Requested - res.Changed; skipped > 0 {
						fmt.Fprintf(w, " (%d not found or not applicable in their state)", skipped)
					}
					fmt.Fprintln(w)
					return err
				})
			})
		}),
	}
}

// applicableStates says, for an action refused in a job's state, which states it applies to.
var applicableStates = map[asyncmqtype.Action]string{
	asyncmqtype.ActionRetry:   "failed, cancelled or completed",
	asyncmqtype.ActionCancel:  "waiting, delayed or active",
	asyncmqtype.ActionPromote: "delayed",
}

// jobQueue returns the queue of a job for its audit entry, "" when it cannot be read.
func jobQueue(ctx context.Context, insp *asyncmq.Inspector, id string) string {
	if j, err := insp.Job(ctx, id); err == nil {
		return j.Queue
	}
	return ""
}

// oneJobAction applies action to one job; when the job's state does not allow it, the error
// names the state and the states the action applies to.
func oneJobAction(ctx context.Context, insp *asyncmq.Inspector, action asyncmqtype.Action, id string) error {
	err := applyOne(ctx, insp, action, id)
	if err == nil || !errors.Is(err, asyncmqtype.ErrInvalid) {
		return err
	}
	j, gerr := insp.Job(ctx, id)
	if gerr != nil {
		return err
	}
	if want, ok := applicableStates[action]; ok {
		return fmt.Errorf("%s job %q: the job is %s; %s applies only to %s jobs", action, id, j.State, action, want)
	}
	return fmt.Errorf("%s job %q: not applicable while the job is %s", action, id, j.State)
}

func applyOne(ctx context.Context, insp *asyncmq.Inspector, action asyncmqtype.Action, id string) error {
	switch action {
	case asyncmqtype.ActionRetry:
		return insp.RetryJob(ctx, id)
	case asyncmqtype.ActionRemove:
		return insp.RemoveJob(ctx, id)
	case asyncmqtype.ActionCancel:
		return insp.CancelJob(ctx, id)
	default:
		return insp.PromoteJob(ctx, id)
	}
}

// readIDs returns the job IDs given as arguments, reading standard input for "-". Duplicates are
// dropped so the changed count is honest.
func readIDs(args []string, in io.Reader) ([]string, error) {
	seen := make(map[string]bool)
	var ids []string
	add := func(id string) {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, arg := range args {
		if arg != "-" {
			add(arg)
			continue
		}
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			add(sc.Text())
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read job IDs from standard input: %w", err)
		}
	}
	if len(ids) == 0 {
		return nil, cli.Usagef("no job ID given")
	}
	return ids, nil
}

func statesList() string {
	s := make([]string, len(asyncmqtype.States))
	for i, st := range asyncmqtype.States {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
