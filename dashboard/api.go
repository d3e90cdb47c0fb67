package dashboard

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// The JSON API for automation, at /api/v1 under the dashboard's mount point. It sits behind the
// same admin gate as the pages (session cookie or bearer token), needs the same roles, passes the
// same cross-origin checks, and records every change in the audit log through perform, with
// source "api". Its types are its own: the store's types may grow without changing the contract
// described by openapi.json.

//go:embed openapi.json
var openAPIDoc []byte

// maxAPIBodyBytes bounds an action's JSON body; the largest legitimate one is a few fields.
const maxAPIBodyBytes = 16 << 10

// apiSource is the audit Source of changes made through the JSON API.
const apiSource = "api"

func (d *Dashboard) apiRoutes(m *http.ServeMux) {
	m.Handle("GET /api/v1/openapi.json", http.HandlerFunc(d.apiOpenAPI))
	m.Handle("GET /api/v1/queues", d.apiHandler(d.apiQueues))
	m.Handle("GET /api/v1/queues/{name}", d.apiHandler(d.apiQueue))
	m.Handle("POST /api/v1/queues/{name}/{action}", d.apiHandler(d.apiQueueAction))
	m.Handle("GET /api/v1/queues/{name}/jobs", d.apiHandler(d.apiJobs))
	m.Handle("GET /api/v1/jobs/{id}", d.apiHandler(d.apiJob))
	m.Handle("POST /api/v1/jobs/{id}/{action}", d.apiHandler(d.apiJobAction))
	m.Handle("GET /api/v1/repeatables", d.apiHandler(d.apiRepeatables))
	m.Handle("POST /api/v1/repeatables/{id}/{action}", d.apiHandler(d.apiRepeatableAction))
	m.Handle("GET /api/v1/workers", d.apiHandler(d.apiWorkers))
	m.Handle("GET /api/v1/metrics", d.apiHandler(d.apiMetrics))
	m.Handle("/api/v1/", d.apiHandler(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{http.StatusNotFound, "No such API route: see openapi.json"}
	}))
}

// apiHandler marks the request as wanting JSON, so that perform and the error paths answer in
// JSON, and writes every error as {"ok": false, "error": "..."}.
func (d *Dashboard) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	inner := d.api(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Accept", "application/json")
		inner.ServeHTTP(w, r)
	})
}

func (d *Dashboard) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIDoc)
}

// apiQueueView is a queue as the API shows it.
type apiQueueView struct {
	Name           string         `json:"name"`
	Paused         bool           `json:"paused"`
	Counts         map[string]int `json:"counts"`
	Total          int            `json:"total"`
	RateLimit      int            `json:"rate_limit"`
	RateIntervalMS int64          `json:"rate_interval_ms"`
}

func newAPIQueue(q asyncmqtype.QueueInfo) apiQueueView {
	v := apiQueueView{Name: q.Name, Paused: q.Paused, Counts: make(map[string]int, len(asyncmqtype.States)),
		Total: q.Total(), RateLimit: q.RateLimit, RateIntervalMS: q.RateInterval.Milliseconds()}
	for _, s := range asyncmqtype.States {
		v.Counts[string(s)] = q.Counts[s]
	}
	for s, n := range q.Counts {
		v.Counts[string(s)] = n
	}
	return v
}

func (d *Dashboard) apiQueues(w http.ResponseWriter, r *http.Request) error {
	qs, err := d.insp.Queues(r.Context())
	if err != nil {
		return err
	}
	out := make([]apiQueueView, 0, len(qs))
	for _, q := range qs {
		out = append(out, newAPIQueue(q))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"queues": out})
}

// apiQueueDetail is one queue with its last hour's run time percentiles and wait.
type apiQueueDetail struct {
	apiQueueView
	Stats apiQueueStats `json:"stats"`
}

type apiQueueStats struct {
	WindowMinutes int     `json:"window_minutes"`
	Completed     int64   `json:"completed"`
	Failed        int64   `json:"failed"`
	Retried       int64   `json:"retried"`
	P50MS         float64 `json:"p50_ms"`
	P95MS         float64 `json:"p95_ms"`
	P99MS         float64 `json:"p99_ms"`
	AvgDurationMS float64 `json:"avg_duration_ms"`
	AvgWaitMS     float64 `json:"avg_wait_ms"`
	// Tasks are the same figures per task of the queue, busiest first (at most
	// asyncmqtype.MetricTasksLimit).
	Tasks []taskMetricsJSON `json:"tasks"`
}

func (d *Dashboard) apiQueue(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := d.insp.Queue(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	_, _, s, err := d.history(ctx, q.Name, "", statsWindow)
	if err != nil {
		return err
	}
	ts, err := d.taskStats(ctx, q.Name, "", statsWindow)
	if err != nil {
		return err
	}
	tasks := make([]taskMetricsJSON, len(ts))
	for i, t := range ts {
		tasks[i] = t.json()
	}
	return writeJSON(w, http.StatusOK, apiQueueDetail{apiQueueView: newAPIQueue(q), Stats: apiQueueStats{
		WindowMinutes: statsWindow, Completed: s.Completed, Failed: s.Failed, Retried: s.Retried,
		P50MS: s.P50MS, P95MS: s.P95MS, P99MS: s.P99MS, AvgDurationMS: s.AvgDurationMS, AvgWaitMS: s.AvgWaitMS,
		Tasks: tasks,
	}})
}

// apiActionBody is the optional JSON body of an action; each action reads the fields it needs.
type apiActionBody struct {
	IncludeDelayed bool   `json:"include_delayed"`
	State          string `json:"state"`
	Grace          string `json:"grace"`
	Limit          *int   `json:"limit"`
	Per            string `json:"per"`
	Force          bool   `json:"force"`
}

// readActionBody decodes an action's body: empty, or a JSON object of known fields.
func readActionBody(w http.ResponseWriter, r *http.Request) (apiActionBody, error) {
	var b apiActionBody
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBodyBytes))
	if err != nil {
		return b, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("The body may hold at most %d KiB.", maxAPIBodyBytes>>10)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return b, &httpError{http.StatusUnsupportedMediaType, "Send the action's parameters as application/json."}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		return b, badRequest("The body is not a JSON object of the action's parameters: %v", errText(err))
	}
	return b, nil
}

func errText(err error) string {
	if err == nil {
		return "trailing data"
	}
	return err.Error()
}

func (d *Dashboard) apiQueueAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, action := r.PathValue("name"), r.PathValue("action")
	body, err := readActionBody(w, r)
	if err != nil {
		return err
	}
	if _, err := d.insp.Queue(ctx, name); err != nil {
		return err
	}
	var count *int
	c := change{Source: apiSource, Queue: name}
	var fn func(ctx context.Context) (string, error)
	switch action {
	case "pause":
		c.Action = actQueuePause
		fn = func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s paused.", name), d.insp.PauseQueue(ctx, name)
		}
	case "resume":
		c.Action = actQueueResume
		fn = func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s resumed.", name), d.insp.ResumeQueue(ctx, name)
		}
	case "rate-limit":
		if body.Limit == nil {
			return badRequest("Give limit (0 removes the rate limit) and per (a duration such as 1s).")
		}
		limit, per, err := parseRateLimit(strconv.Itoa(*body.Limit), body.Per, false)
		if err != nil {
			return err
		}
		c.Action, c.Detail = actQueueRateLimit, fmt.Sprintf("limit=%d per=%s", limit, per)
		fn = func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s rate limit set to %d per %s.", name, limit, per), d.insp.SetRateLimit(ctx, name, limit, per)
		}
	case "drain":
		c.Action, c.Detail = actQueueDrain, "include_delayed="+strconv.FormatBool(body.IncludeDelayed)
		count = new(int)
		fn = func(ctx context.Context) (string, error) {
			n, err := d.insp.Drain(ctx, name, body.IncludeDelayed)
			*count = n
			return fmt.Sprintf("Drained %d jobs from queue %s.", n, name), err
		}
	case "clean":
		state := asyncmqtype.State(body.State)
		if !state.Terminal() {
			return badRequest("Clean needs a state of completed, failed or cancelled, not %q.", state)
		}
		grace, err := parseGrace(body.Grace)
		if err != nil {
			return err
		}
		limit := 0
		if body.Limit != nil {
			if limit, err = parseLimit(strconv.Itoa(*body.Limit)); err != nil {
				return err
			}
		}
		c.Action, c.Detail = actQueueClean, fmt.Sprintf("state=%s grace=%s limit=%d", state, grace, limit)
		count = new(int)
		fn = func(ctx context.Context) (string, error) {
			n, err := d.insp.Clean(ctx, name, state, grace, limit)
			*count = n
			return fmt.Sprintf("Cleaned %d %s jobs from queue %s.", n, state, name), err
		}
	case "obliterate":
		c.Action, c.Detail = actQueueObliterate, "force="+strconv.FormatBool(body.Force)
		fn = func(ctx context.Context) (string, error) {
			return fmt.Sprintf("Queue %s obliterated.", name), d.insp.Obliterate(ctx, name, body.Force)
		}
	default:
		return &httpError{http.StatusNotFound, fmt.Sprintf("Unknown queue action %q: use pause, resume, rate-limit, drain, clean or obliterate.", action)}
	}
	c.Count = count
	return d.perform(w, r, c, fn)
}

// apiJobView is a job as the API shows it; payload, result, progress and errors are redacted as
// the pages redact them, and the lease token is never shown.
type apiJobView struct {
	ID              string            `json:"id"`
	Queue           string            `json:"queue"`
	Task            string            `json:"task"`
	State           string            `json:"state"`
	Priority        int               `json:"priority"`
	Attempts        int               `json:"attempts"`
	MaxRetries      int               `json:"max_retries"`
	CreatedAt       time.Time         `json:"created_at"`
	RunAt           time.Time         `json:"run_at"`
	StartedAt       *time.Time        `json:"started_at"`
	FinishedAt      *time.Time        `json:"finished_at"`
	WorkerID        string            `json:"worker_id,omitempty"`
	Payload         json.RawMessage   `json:"payload,omitempty"`
	Result          json.RawMessage   `json:"result,omitempty"`
	Progress        json.RawMessage   `json:"progress,omitempty"`
	Errors          []apiAttemptError `json:"errors"`
	DependsOn       []string          `json:"depends_on"`
	PendingDeps     int               `json:"pending_deps,omitempty"`
	OnParentFailure string            `json:"on_parent_failure,omitempty"`
	CancelRequested bool              `json:"cancel_requested"`
	RepeatableID    string            `json:"repeatable_id,omitempty"`
	// Headers are shown with the values of secret-looking names hidden.
	Headers map[string]string `json:"headers,omitempty"`
}

type apiAttemptError struct {
	// Attempt is the run's place in the job's history, from 1 (see attemptView).
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
	Panic   bool      `json:"panic"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// redactedRaw is raw redacted, as JSON; a payload that is not JSON becomes a JSON string.
func (d *Dashboard) redactedRaw(raw []byte) json.RawMessage {
	s := d.redact.JSON(raw)
	if s == "" {
		return nil
	}
	var buf bytes.Buffer
	if json.Valid([]byte(s)) && json.Compact(&buf, []byte(s)) == nil {
		return buf.Bytes()
	}
	b, _ := json.Marshal(s)
	return b
}

func (d *Dashboard) newAPIJob(j *asyncmqtype.JobInfo, full bool) apiJobView {
	v := apiJobView{ID: j.ID, Queue: j.Queue, Task: j.Task, State: string(j.State), Priority: j.Priority,
		Attempts: j.Attempts, MaxRetries: j.MaxRetries, CreatedAt: j.CreatedAt, RunAt: j.RunAt,
		StartedAt: optTime(j.StartedAt), FinishedAt: optTime(j.FinishedAt), WorkerID: j.WorkerID,
		Errors: []apiAttemptError{}, DependsOn: j.DependsOn, CancelRequested: j.CancelRequested, RepeatableID: j.RepeatableID,
		PendingDeps: j.PendingDeps, OnParentFailure: string(j.OnParentFailure)}
	if v.DependsOn == nil {
		v.DependsOn = []string{}
	}
	if full {
		v.Headers = d.redact.HeaderMap(j.Headers)
		v.Payload, v.Result, v.Progress = d.redactedRaw(j.Payload), d.redactedRaw(j.Result), d.redactedRaw(j.Progress)
		for i, e := range j.Errors {
			v.Errors = append(v.Errors, apiAttemptError{Attempt: i + 1, At: e.At, Error: d.redact.Text(e.Error), Panic: e.Panic})
		}
	}
	return v
}

func (d *Dashboard) apiJobs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	q := r.URL.Query()
	f, err := parseJobFilter(q, asyncmqtype.StateWaiting)
	if err != nil {
		return err
	}
	limit, offset := 20, 0
	for _, p := range []struct {
		key string
		dst *int
		max int
	}{{"limit", &limit, 1000}, {"offset", &offset, 1 << 30}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max {
				return badRequest("%s %q is not a whole number from 0 to %d.", p.key, v, p.max)
			}
			*p.dst = n
		}
	}
	if _, err := d.insp.Queue(ctx, name); err != nil {
		return err
	}
	page, err := d.insp.Jobs(ctx, asyncmqtype.ListJobsParams{Filter: f.backend(name), Sort: f.Sort, Offset: offset, Limit: max(limit, 1)})
	if err != nil {
		return err
	}
	jobs := make([]apiJobView, 0, len(page.Jobs))
	for _, j := range page.Jobs {
		jobs = append(jobs, d.newAPIJob(j, false))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs, "total": page.Total, "offset": offset, "limit": max(limit, 1)})
}

func (d *Dashboard) apiJob(w http.ResponseWriter, r *http.Request) error {
	j, err := d.insp.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d.newAPIJob(j, true))
}

func (d *Dashboard) apiJobAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	a, ok := jobActionNames[r.PathValue("action")]
	if !ok {
		return &httpError{http.StatusNotFound, fmt.Sprintf("Unknown job action %q: use retry, cancel, remove or promote.", r.PathValue("action"))}
	}
	if _, err := readActionBody(w, r); err != nil {
		return err
	}
	j, err := d.insp.Job(ctx, id)
	if err != nil {
		return err
	}
	c := change{Action: "job." + string(a), Source: apiSource, Queue: j.Queue, JobID: id, Detail: "task=" + j.Task}
	return d.perform(w, r, c, func(ctx context.Context) (string, error) {
		var err error
		switch a {
		case asyncmqtype.ActionRetry:
			err = d.insp.RetryJob(ctx, id)
		case asyncmqtype.ActionCancel:
			err = d.insp.CancelJob(ctx, id)
		case asyncmqtype.ActionRemove:
			err = d.insp.RemoveJob(ctx, id)
		case asyncmqtype.ActionPromote:
			err = d.insp.PromoteJob(ctx, id)
		}
		return fmt.Sprintf("Job %s %s.", id, pastTense[a]), err
	})
}

// apiRepeatableView is a repeatable definition as the API shows it.
type apiRepeatableView struct {
	ID         string          `json:"id"`
	Queue      string          `json:"queue"`
	Task       string          `json:"task"`
	Cron       string          `json:"cron,omitempty"`
	IntervalMS int64           `json:"interval_ms,omitempty"`
	Priority   int             `json:"priority"`
	MaxRetries int             `json:"max_retries"`
	Paused     bool            `json:"paused"`
	NextRun    time.Time       `json:"next_run"`
	LastRun    *time.Time      `json:"last_run"`
	CreatedAt  time.Time       `json:"created_at"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

func (d *Dashboard) apiRepeatables(w http.ResponseWriter, r *http.Request) error {
	queue := strings.TrimSpace(r.URL.Query().Get("queue"))
	if err := checkFilters("queue", queue); err != nil {
		return err
	}
	rs, err := d.insp.Repeatables(r.Context(), queue)
	if err != nil {
		return err
	}
	out := make([]apiRepeatableView, 0, len(rs))
	for _, rp := range rs {
		out = append(out, apiRepeatableView{ID: rp.ID, Queue: rp.Queue, Task: rp.Task, Cron: rp.Cron,
			IntervalMS: rp.Interval.Milliseconds(), Priority: rp.Priority, MaxRetries: rp.MaxRetries, Paused: rp.Paused,
			NextRun: rp.NextRun, LastRun: optTime(rp.LastRun), CreatedAt: rp.CreatedAt, Payload: d.redactedRaw(rp.Payload)})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"repeatables": out})
}

func (d *Dashboard) apiRepeatableAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := readActionBody(w, r); err != nil {
		return err
	}
	c := change{Source: apiSource, Detail: "id=" + id}
	var fn func(ctx context.Context) error
	switch r.PathValue("action") {
	case "pause":
		c.Action, fn = actRepeatablePause, func(ctx context.Context) error { return d.insp.PauseRepeatable(ctx, id) }
	case "resume":
		c.Action, fn = actRepeatableResume, func(ctx context.Context) error { return d.insp.ResumeRepeatable(ctx, id) }
	case "remove":
		c.Action, fn = actRepeatableRemove, func(ctx context.Context) error { return d.insp.RemoveRepeatable(ctx, id) }
	default:
		return &httpError{http.StatusNotFound, fmt.Sprintf("Unknown repeatable action %q: use pause, resume or remove.", r.PathValue("action"))}
	}
	if d.roleOf(r) >= requiredRole(c.Action) {
		// Only users who may act learn whether the definition exists.
		rs, err := d.insp.Repeatables(ctx, "")
		if err != nil {
			return err
		}
		found := false
		for _, rp := range rs {
			if rp.ID == id {
				found, c.Queue, c.Detail = true, rp.Queue, c.Detail+" task="+rp.Task
			}
		}
		if !found {
			return fmt.Errorf("repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
		}
	}
	done := map[string]string{"pause": "paused", "resume": "resumed", "remove": "removed"}[r.PathValue("action")]
	return d.perform(w, r, c, func(ctx context.Context) (string, error) {
		return fmt.Sprintf("Repeatable %s %s.", id, done), fn(ctx)
	})
}

// apiWorkerView is a registered worker as the API shows it.
type apiWorkerView struct {
	ID            string    `json:"id"`
	Hostname      string    `json:"hostname"`
	PID           int       `json:"pid"`
	Queues        []string  `json:"queues"`
	Concurrency   int       `json:"concurrency"`
	Active        int       `json:"active"`
	StartedAt     time.Time `json:"started_at"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// Health is healthy, aging, stale or unknown, as the workers page shows it.
	Health string `json:"health"`
}

func (d *Dashboard) apiWorkers(w http.ResponseWriter, r *http.Request) error {
	ws, err := d.insp.Workers(r.Context())
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]apiWorkerView, 0, len(ws))
	for _, wk := range ws {
		qs := wk.Queues
		if qs == nil {
			qs = []string{}
		}
		out = append(out, apiWorkerView{ID: wk.ID, Hostname: wk.Hostname, PID: wk.PID, Queues: qs, Concurrency: wk.Concurrency,
			Active: wk.Active, StartedAt: wk.StartedAt, LastHeartbeat: wk.LastHeartbeat,
			Health: workerHealth(now, wk.LastHeartbeat, d.cfg.WorkerStaleAfter)})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"workers": out})
}

func (d *Dashboard) apiMetrics(w http.ResponseWriter, r *http.Request) error {
	queue := strings.TrimSpace(r.URL.Query().Get("queue"))
	if err := checkFilters("queue", queue); err != nil {
		return err
	}
	if v := r.URL.Query().Get("minutes"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > maxWindow {
			return badRequest("minutes %q is not a whole number from 1 to %d.", v, maxWindow)
		}
	}
	return d.metricsHistory(w, r)
}
