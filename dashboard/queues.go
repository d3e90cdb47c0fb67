package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// queueTabs links the sections of one queue's pages; Current names the page shown
// ("detail", "jobs", "dlq" or "repeatables").
type queueTabs struct {
	Detail, Jobs, DLQ, Repeatables string
	Current                        string
}

func newQueueTabs(base, queue, current string) queueTabs {
	return queueTabs{
		Detail:      joinPath(base, "queues", queue),
		Jobs:        joinPath(base, "queues", queue, "jobs"),
		DLQ:         joinPath(base, "queues", queue, "dlq"),
		Repeatables: joinPath(base, "queues", queue, "repeatables"),
		Current:     current,
	}
}

type queueListData struct {
	Queues []asyncmqtype.QueueInfo
}

func (d *Dashboard) queueList(w http.ResponseWriter, r *http.Request) error {
	qs, err := d.insp.Queues(r.Context())
	if err != nil {
		return err
	}
	return d.render(w, r, http.StatusOK, "queues", d.newPage(w, r, "Queues", "queues", queueListData{Queues: qs}))
}

type queueDetailData struct {
	Queue       asyncmqtype.QueueInfo
	Repeatables int
	// CleanStates are the states Clean accepts.
	CleanStates []asyncmqtype.State
	// Stats sums the queue's last statsWindow minutes: run time percentiles and wait time.
	Stats         metricPoint
	StatsWindow   string
	RateLimitEdit string
	// HistoryURL feeds the charts: of the whole queue, or of ChartTask when set (?task=).
	HistoryURL string
	// Tasks are the per-task sums of the same window, busiest first; at most TaskLimit.
	Tasks     []taskMetrics
	ChartTask string
	TaskLimit int
	// PageURL is the queue page without a query, for the task links.
	PageURL string
}

// statsWindow is how many minutes of metrics the queue page summarises.
const statsWindow = 60

func (d *Dashboard) queueDetail(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := d.insp.Queue(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	reps, err := d.insp.Repeatables(ctx, q.Name)
	if err != nil {
		return err
	}
	task := strings.TrimSpace(r.URL.Query().Get("task"))
	if err := checkFilters("task", task); err != nil {
		return err
	}
	_, _, stats, err := d.history(ctx, q.Name, "", statsWindow)
	if err != nil {
		return err
	}
	tasks, err := d.taskStats(ctx, q.Name, "", statsWindow)
	if err != nil {
		return err
	}
	data := queueDetailData{
		Queue: q, Repeatables: len(reps),
		CleanStates: []asyncmqtype.State{asyncmqtype.StateCompleted, asyncmqtype.StateFailed, asyncmqtype.StateCancelled},
		Stats:       stats, StatsWindow: windowLabel(statsWindow),
		Tasks: tasks, ChartTask: task, TaskLimit: asyncmqtype.MetricTasksLimit,
		RateLimitEdit: "1s",
	}
	if q.RateLimit > 0 {
		data.RateLimitEdit = q.RateInterval.String()
	}
	p := d.newPage(w, r, "Queue "+q.Name, "queues", nil)
	data.HistoryURL = withQuery(p.Path("metrics", "history"), nil, "minutes", strconv.Itoa(statsWindow), "queue", q.Name, "task", task)
	data.PageURL = p.Path("queues", q.Name)
	p.Data = data
	p.LiveQueue = q.Name
	return d.render(w, r, http.StatusOK, "queue", p)
}

// queueAction serves the queue page's forms: pause and resume at once; drain, clean and
// obliterate only after a confirmation step.
func (d *Dashboard) queueAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if _, err := d.insp.Queue(ctx, name); err != nil {
		return err
	}
	p := d.newPage(nil, r, "", "queues", nil)
	c := change{Source: "queues.detail", Queue: name, Back: p.Path("queues", name)}
	if r.PostFormValue("source") == "queues.list" {
		c.Source = "queues.list"
	}
	action := r.PostFormValue("action")
	switch action {
	case "pause":
		c.Action = actQueuePause
		return d.perform(w, r, c, func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s paused.", name), d.insp.PauseQueue(ctx, name)
		})
	case "resume":
		c.Action = actQueueResume
		return d.perform(w, r, c, func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s resumed.", name), d.insp.ResumeQueue(ctx, name)
		})
	case "rate-limit":
		limit, per, err := parseRateLimit(r.PostFormValue("limit"), r.PostFormValue("per"), r.PostFormValue("off") != "")
		if err != nil {
			return err
		}
		c.Action, c.Detail = actQueueRateLimit, fmt.Sprintf("limit=%d per=%s", limit, per)
		return d.perform(w, r, c, func(ctx context.Context) (string, error) {
			msg := fmt.Sprintf("Queue %s limited to %s %s per %s.", name, formatInt(limit), plural(limit, "job", "jobs"), per)
			if limit == 0 {
				msg = fmt.Sprintf("Queue %s has no rate limit now.", name)
			}
			return msg, d.insp.SetRateLimit(ctx, name, limit, per)
		})
	case "drain":
		withDelayed := r.PostFormValue("include_delayed") != ""
		c.Action, c.Detail = actQueueDrain, "include_delayed="+strconv.FormatBool(withDelayed)
		what := "waiting and waiting-children"
		if withDelayed {
			what = "waiting, waiting-children and delayed"
		}
		if d.needsConfirm(r, c.Action) {
			return d.confirm(w, r, confirmData{
				Heading: "Drain queue " + name + "?",
				Message: fmt.Sprintf("This deletes every %s job of queue %s. It cannot be undone.", what, name),
				Button:  "Drain queue",
				Fields:  formFields(r, "action", "include_delayed"),
				Back:    c.Back,
			})
		}
		return d.perform(w, r, c, func(ctx context.Context) (string, error) {
			n, err := d.insp.Drain(ctx, name, withDelayed)
			return fmt.Sprintf("Drained queue %s: %s %s deleted.", name, formatInt(n), plural(n, "job", "jobs")), err
		})
	case "clean":
		state := asyncmqtype.State(r.PostFormValue("state"))
		if !state.Terminal() {
			return badRequest("Clean needs a state of completed, failed or cancelled, not %q.", state)
		}
		grace, err := parseGrace(r.PostFormValue("grace"))
		if err != nil {
			return err
		}
		limit, err := parseLimit(r.PostFormValue("limit"))
		if err != nil {
			return err
		}
		c.Action = actQueueClean
		c.Detail = fmt.Sprintf("state=%s grace=%s limit=%d", state, grace, limit)
		if d.needsConfirm(r, c.Action) {
			return d.confirm(w, r, confirmData{
				Heading: "Clean queue " + name + "?",
				Message: fmt.Sprintf("This deletes %s jobs of queue %s that finished more than %s ago (at most %s; 0 means all). It cannot be undone.",
					state, name, grace, formatInt(limit)),
				Button: "Clean queue",
				Fields: formFields(r, "action", "state", "grace", "limit"),
				Back:   c.Back,
			})
		}
		return d.perform(w, r, c, func(ctx context.Context) (string, error) {
			n, err := d.insp.Clean(ctx, name, state, grace, limit)
			return fmt.Sprintf("Cleaned %s %s %s from queue %s.", formatInt(n), state, plural(n, "job", "jobs"), name), err
		})
	case "obliterate":
		force := r.PostFormValue("force") != ""
		c.Action, c.Detail, c.Gone = actQueueObliterate, "force="+strconv.FormatBool(force), true
		c.Back, c.Here = p.Path("queues"), c.Back
		if d.needsConfirm(r, c.Action) {
			return d.confirm(w, r, confirmData{
				Heading: "Obliterate queue " + name + "?",
				Message: fmt.Sprintf("This deletes queue %s with all its jobs, settings and repeatables. It cannot be undone.", name),
				Button:  "Obliterate queue",
				Fields:  formFields(r, "action", "force"),
				Back:    p.Path("queues", name),
			})
		}
		return d.perform(w, r, c, func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s obliterated.", name), d.insp.Obliterate(ctx, name, force)
		})
	default:
		return badRequest("Unknown queue action %q: use pause, resume, rate-limit, drain, clean or obliterate.", action)
	}
}

// parseGrace reads a clean grace period: a Go duration ("1h30m") or a number of seconds.
func parseGrace(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 && n < 1e10 {
		return time.Duration(n * float64(time.Second)), nil
	}
	g, err := time.ParseDuration(s)
	if err != nil || g < 0 {
		return 0, badRequest("Grace %q is not a duration such as 1h or 90s.", s)
	}
	return g, nil
}

func parseLimit(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1_000_000_000 {
		return 0, badRequest("Limit %q is not a whole number of at least 0.", s)
	}
	return n, nil
}

// maxRateLimit bounds a rate limit's job count; the stores keep it in an int.
const maxRateLimit = 1_000_000_000

// parseRateLimit reads the queue page's rate limit form: a whole number of jobs and a Go
// duration ("1s", "1m"); off, or a limit of 0, removes the limit.
func parseRateLimit(limitText, perText string, off bool) (int, time.Duration, error) {
	if off {
		return 0, 0, nil
	}
	limitText, perText = strings.TrimSpace(limitText), strings.TrimSpace(perText)
	limit, err := strconv.Atoi(limitText)
	if err != nil || limit < 0 || limit > maxRateLimit {
		return 0, 0, badRequest("Limit %q is not a whole number of jobs from 0 to %s.", limitText, formatInt(maxRateLimit))
	}
	if limit == 0 {
		return 0, 0, nil
	}
	per, err := time.ParseDuration(perText)
	if err != nil || per <= 0 || per > 24*time.Hour {
		return 0, 0, badRequest("Interval %q is not a positive duration of at most 24h, such as 1s or 1m.", perText)
	}
	return limit, per, nil
}
