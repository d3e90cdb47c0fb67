package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// jobFilter is a listing's filter as the query string carries it.
type jobFilter struct {
	State asyncmqtype.State
	Task  string
	ID    string
	Text  string
	Sort  asyncmqtype.Sort
}

// parseJobFilter reads state, task, job_id, q and sort (AsyncMQ's names). An unknown state is an
// error, since guessing would show the wrong jobs; an unknown sort falls back to newest.
func parseJobFilter(q url.Values, defaultState asyncmqtype.State) (jobFilter, error) {
	f := jobFilter{
		State: asyncmqtype.State(strings.TrimSpace(q.Get("state"))),
		Task:  strings.TrimSpace(q.Get("task")),
		ID:    strings.TrimSpace(q.Get("job_id")),
		Text:  strings.TrimSpace(q.Get("q")),
		Sort:  asyncmqtype.Sort(q.Get("sort")),
	}
	if err := checkFilters("task", f.Task, "job_id", f.ID, "q", f.Text); err != nil {
		return f, err
	}
	if f.State == "" {
		f.State = defaultState
	}
	if !f.State.Valid() {
		names := make([]string, len(asyncmqtype.States))
		for i, s := range asyncmqtype.States {
			names[i] = string(s)
		}
		return f, badRequest("Unknown job state %q: use one of %s.", f.State, strings.Join(names, ", "))
	}
	if f.Sort != asyncmqtype.SortOldest {
		f.Sort = asyncmqtype.SortNewest
	}
	return f, nil
}

func (f jobFilter) backend(queue string) asyncmqtype.JobFilter {
	return asyncmqtype.JobFilter{Queue: queue, State: f.State, Task: f.Task, ID: f.ID, Text: f.Text}
}

// Filtered reports whether anything narrows the listing beyond its state.
func (f jobFilter) Filtered() bool { return f.Task != "" || f.ID != "" || f.Text != "" }

// jobRow is one row of a job listing, every cell ready to print.
type jobRow struct {
	ID         string
	URL        string
	Task       string
	State      asyncmqtype.State
	Attempts   string
	Created    string
	CreatedISO string
	RunAt      string
	// Payload and LastError are redacted previews.
	Payload   string
	LastError string
}

// Preview lengths of the listing's payload and last-error cells.
const (
	payloadPreview = 160
	errorPreview   = 200
)

// jobListData is a job listing (the jobs and dead-letter pages) with its links and labels. The
// page is written in Go (see writeContent): it is the dashboard's busiest, and in a template
// each of a row's dozen values costs a reflective call to an escaper.
type jobListData struct {
	Name   string
	Filter jobFilter
	// DLQ marks the dead-letter page, which lists failed jobs only and has no state tabs.
	DLQ bool
	// States are the state tabs of the jobs page, each keeping the other filters.
	States []stateCount
	Rows   []jobRow
	Pager  pager
	// Clamped is set when the requested page was past the end and the last page is shown.
	Clamped bool
	// Found is the count line above the table: "1 failed job found."
	Found string
	// Bulk lists the bulk actions that apply to the listed jobs and that the user may take;
	// Selectable is set when there are rows to take them on.
	Bulk       []string
	Selectable bool
	// BulkURL is where the bulk forms post; Matching labels the all-matching form.
	BulkURL  string
	Matching string
	// Return is the listing's own URL, where the bulk forms come back to.
	Return string
}

// actionsFor lists the job actions that apply in a state, in the order buttons show them.
func actionsFor(s asyncmqtype.State) []string {
	switch s {
	case asyncmqtype.StateWaiting, asyncmqtype.StateWaitingChildren:
		return []string{"cancel", "remove"}
	case asyncmqtype.StateActive:
		return []string{"cancel"}
	case asyncmqtype.StateDelayed:
		return []string{"promote", "cancel", "remove"}
	case asyncmqtype.StateCompleted, asyncmqtype.StateFailed, asyncmqtype.StateCancelled:
		return []string{"retry", "remove"}
	}
	return nil
}

func (d *Dashboard) jobList(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	data, qi, err := d.listJobs(r, name, "")
	if err != nil {
		return err
	}
	base := admin.BasePath(r)
	path, q := publicPath(r), r.URL.Query()
	for _, s := range asyncmqtype.States {
		data.States = append(data.States, stateCount{State: s, Count: formatInt(qi.Counts[s]), Current: s == data.Filter.State,
			URL: withQuery(path, q, "state", string(s), "page", "")})
	}
	d.bulkActions(r, &data, actionsFor(data.Filter.State), joinPath(base, "queues", qi.Name, "jobs"))
	p := d.newPage(w, r, fmt.Sprintf("Jobs — %s", qi.Name), "queues", &data)
	p.LiveQueue = qi.Name
	return d.render(w, r, http.StatusOK, "jobs", p)
}

// bulkActions offers the actions of a listing that the user's role allows.
func (d *Dashboard) bulkActions(r *http.Request, data *jobListData, actions []string, url string) {
	role := d.roleOf(r)
	for _, a := range actions {
		if role >= requiredRole("job."+a) {
			data.Bulk = append(data.Bulk, a)
		}
	}
	data.Selectable = len(data.Bulk) > 0 && len(data.Rows) > 0
	data.BulkURL = url
	n := data.Pager.Total
	data.Matching = fmt.Sprintf("All %s:", quantity(n, "matching job", "matching jobs"))
}

// listJobs loads one page of a queue's jobs; the backend filters, sorts and pages, so a page
// costs the same on the millionth row as on the first. A page past the end shows the last page.
// fixed, when set, is the only state listed (the dead-letter page's failed jobs).
func (d *Dashboard) listJobs(r *http.Request, name string, fixed asyncmqtype.State) (jobListData, asyncmqtype.QueueInfo, error) {
	ctx := r.Context()
	q := r.URL.Query()
	def := asyncmqtype.StateWaiting
	if fixed != "" {
		def = fixed
		q.Del("state")
	}
	f, err := parseJobFilter(q, def)
	if err != nil {
		return jobListData{}, asyncmqtype.QueueInfo{}, err
	}
	qi, err := d.insp.Queue(ctx, name)
	if err != nil {
		return jobListData{}, asyncmqtype.QueueInfo{}, err
	}
	pg := newPager(q, publicPath(r))
	params := asyncmqtype.ListJobsParams{Filter: f.backend(name), Sort: f.Sort, Offset: pg.offset(), Limit: pg.Size, Brief: true}
	page, err := d.insp.Jobs(ctx, params)
	if err != nil {
		return jobListData{}, asyncmqtype.QueueInfo{}, err
	}
	clamped := pg.setTotal(page.Total)
	if clamped && page.Total > 0 {
		params.Offset = pg.offset()
		if page, err = d.insp.Jobs(ctx, params); err != nil {
			return jobListData{}, asyncmqtype.QueueInfo{}, err
		}
	}
	base := admin.BasePath(r)
	rows := make([]jobRow, 0, len(page.Jobs))
	for _, j := range page.Jobs {
		row := jobRow{
			ID: j.ID, URL: joinPath(base, "queues", j.Queue, "jobs", j.ID), Task: j.Task, State: j.State,
			Attempts: strconv.Itoa(j.Attempts) + " / " + strconv.Itoa(j.MaxRetries+1),
			Created:  formatTime(j.CreatedAt), CreatedISO: isoTime(j.CreatedAt), RunAt: formatTime(j.RunAt),
			Payload: d.redact.Preview(j.Payload, payloadPreview),
		}
		if e := j.LastError(); e != nil {
			row.LastError = d.redact.TextPreview(e.Error, errorPreview)
		}
		rows = append(rows, row)
	}
	found := fmt.Sprintf("%s %s %s found.", formatInt(pg.Total), f.State, plural(pg.Total, "job", "jobs"))
	return jobListData{
		Name: qi.Name, Filter: f, Rows: rows, Pager: pg, Clamped: clamped, Found: found, Return: publicURL(r),
	}, qi, nil
}

// plural picks the word for a count of n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// quantity is n with thousands separators and the word for that count: "1 job", "1,200 jobs".
func quantity(n int, one, many string) string { return formatInt(n) + " " + plural(n, one, many) }

// attemptView is one failed attempt as the job page shows it, redacted.
type attemptView struct {
	// Attempt is the run's place in the job's history, from 1; Stored is the number the store
	// recorded, counted since the last manual retry.
	Attempt int
	Stored  int
	At      time.Time
	Error   string
	Stack   string
	Panic   bool
	Last    bool
}

// depView is one parent job of a dependent job.
type depView struct {
	ID    string
	Queue string
	State asyncmqtype.State
	Found bool
}

type jobDetailData struct {
	Job      *asyncmqtype.JobInfo
	Payload  string
	Result   string
	Progress string
	Headers  []headerView
	Attempts []attemptView
	Deps     []depView
	Actions  []string
}

// maxDepLookups bounds the parent lookups one job page makes.
const maxDepLookups = 20

func (d *Dashboard) loadJob(ctx context.Context, queue, id string) (*asyncmqtype.JobInfo, error) {
	j, err := d.insp.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Queue != queue {
		// The URL names the queue; a job of another queue is not at this address.
		return nil, &httpError{http.StatusNotFound, "Job not found"}
	}
	return j, nil
}

func (d *Dashboard) jobDetail(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	j, err := d.loadJob(ctx, r.PathValue("name"), r.PathValue("id"))
	if err != nil {
		return err
	}
	data := jobDetailData{
		Job:      j,
		Payload:  d.redact.JSON(j.Payload),
		Result:   d.redact.JSON(j.Result),
		Progress: d.redact.JSON(j.Progress),
		Headers:  d.redact.Headers(j.Headers),
		Actions:  actionsFor(j.State),
	}
	// The error history survives a manual retry, which restarts the job's attempt counter, so
	// the stored numbers repeat ("1", then "1" again after the retry). The page numbers the runs
	// by their place in the history and keeps the stored number where it differs.
	for i, e := range j.Errors {
		data.Attempts = append(data.Attempts, attemptView{
			Attempt: i + 1, Stored: e.Attempt, At: e.At, Error: d.redact.Text(e.Error), Stack: d.redact.Text(e.Stack),
			Panic: e.Panic, Last: i == len(j.Errors)-1,
		})
	}
	slices.Reverse(data.Attempts)
	for i, id := range j.DependsOn {
		dv := depView{ID: id}
		if i < maxDepLookups {
			if pj, err := d.insp.Job(ctx, id); err == nil {
				dv.Found, dv.Queue, dv.State = true, pj.Queue, pj.State
			}
		}
		data.Deps = append(data.Deps, dv)
	}
	p := d.newPage(w, r, "Job "+j.ID, "queues", data)
	p.LiveQueue = j.Queue
	return d.render(w, r, http.StatusOK, "job", p)
}

// jobActionNames maps the action path segment to the backend action; "delete" is AsyncMQ's alias
// for remove.
var jobActionNames = map[string]asyncmqtype.Action{
	"retry":   asyncmqtype.ActionRetry,
	"cancel":  asyncmqtype.ActionCancel,
	"remove":  asyncmqtype.ActionRemove,
	"delete":  asyncmqtype.ActionRemove,
	"promote": asyncmqtype.ActionPromote,
}

var pastTense = map[asyncmqtype.Action]string{
	asyncmqtype.ActionRetry:   "retried",
	asyncmqtype.ActionCancel:  "cancelled",
	asyncmqtype.ActionRemove:  "removed",
	asyncmqtype.ActionPromote: "promoted",
}

func (d *Dashboard) jobAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, id := r.PathValue("name"), r.PathValue("id")
	a, ok := jobActionNames[r.PathValue("action")]
	if !ok {
		return badRequest("Unknown job action %q: use retry, cancel, remove or promote.", r.PathValue("action"))
	}
	j, err := d.loadJob(ctx, name, id)
	if err != nil {
		return err
	}
	p := d.newPage(nil, r, "", "", nil)
	c := change{
		Action: "job." + string(a), Source: "jobs.single", Queue: name, JobID: id, Detail: "task=" + j.Task,
		Back: p.Path("queues", name, "jobs", id),
	}
	if a == asyncmqtype.ActionRemove && j.State != asyncmqtype.StateActive {
		c.Gone, c.Here = true, c.Back
		c.Back = withQuery(p.Path("queues", name, "jobs"), nil, "state", string(j.State))
	}
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
		msg := fmt.Sprintf("Job %s %s.", id, pastTense[a])
		if a == asyncmqtype.ActionCancel && j.State == asyncmqtype.StateActive {
			msg = fmt.Sprintf("Cancellation of job %s requested; its worker stops it at the next heartbeat.", id)
		}
		return msg, err
	})
}

func (d *Dashboard) jobBulk(w http.ResponseWriter, r *http.Request) error {
	return d.bulk(w, r, bulkRequest{Queue: r.PathValue("name"), Source: "jobs.bulk"})
}

// maxSelected bounds the job IDs one bulk form may name; larger sets use "all matching".
const maxSelected = 1000

type bulkRequest struct {
	Queue  string
	Source string
	// State, when set, fixes the filter's state (the dead-letter page works on failed jobs).
	State   asyncmqtype.State
	Allowed []asyncmqtype.Action
}

// bulk applies an action to the selected jobs (job_id fields) or, with scope=matching, to every
// job matching the posted filter, after a confirmation page that shows how many jobs it affects.
func (d *Dashboard) bulk(w http.ResponseWriter, r *http.Request, b bulkRequest) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return badRequest("Malformed form: %v", err)
	}
	if _, err := d.insp.Queue(ctx, b.Queue); err != nil {
		return err
	}
	name := r.PostFormValue("action")
	a, ok := jobActionNames[name]
	if !ok || (b.Allowed != nil && !slices.Contains(b.Allowed, a)) {
		return badRequest("Unknown bulk action %q.", name)
	}
	fv := url.Values{
		"state": {r.PostFormValue("state")}, "task": {r.PostFormValue("task")},
		"job_id": {r.PostFormValue("match_id")}, "q": {r.PostFormValue("q")},
	}
	def := asyncmqtype.StateWaiting
	if b.State != "" {
		def = b.State
		fv.Del("state")
	}
	f, err := parseJobFilter(fv, def)
	if err != nil {
		return err
	}
	p := d.newPage(nil, r, "", "", nil)
	listPath := p.Path("queues", b.Queue, "jobs")
	if b.State == asyncmqtype.StateFailed {
		listPath = p.Path("queues", b.Queue, "dlq")
	}
	c := change{Action: "job." + string(a), Source: b.Source, Queue: b.Queue,
		Back: withQuery(listPath, nil, "state", string(f.State))}
	if b.State != "" {
		c.Back = listPath
	}
	params := asyncmqtype.ApplyParams{Action: a}
	var count int
	var what string
	if r.PostFormValue("scope") == "matching" {
		params.Filter = f.backend(b.Queue)
		pg, err := d.insp.Jobs(ctx, asyncmqtype.ListJobsParams{Filter: params.Filter, Limit: 1})
		if err != nil {
			return err
		}
		count = pg.Total
		what = fmt.Sprintf("all %s %s %s matching the filter", formatInt(count), f.State, plural(count, "job", "jobs"))
		c.Detail = fmt.Sprintf("matching state=%s task=%q job_id=%q q=%q (%d jobs)", f.State, f.Task, f.ID, f.Text, count)
	} else {
		ids := selectedIDs(r.PostForm["job_id"])
		if len(ids) == 0 {
			return badRequest("Select at least one job, or apply the action to all matching jobs.")
		}
		if len(ids) > maxSelected {
			return badRequest("At most %d jobs can be selected; use all matching instead.", maxSelected)
		}
		params.IDs = ids
		params.Filter.Queue = b.Queue
		count = len(ids)
		what = quantity(count, "selected job", "selected jobs")
		c.Detail = "selected " + strings.Join(ids[:min(len(ids), 20)], ",")
		if len(ids) > 20 {
			c.Detail += fmt.Sprintf(" and %d more", len(ids)-20)
		}
	}
	if d.needsConfirm(r, c.Action) {
		return d.confirm(w, r, confirmData{
			Heading: fmt.Sprintf("%s %s?", titleCase(string(a)), what),
			Message: fmt.Sprintf("This will %s %s in queue %s.", a, what, b.Queue),
			Button:  titleCase(string(a)) + " " + quantity(count, "job", "jobs"),
			Fields:  formFields(r, "action", "scope", "state", "task", "match_id", "q", "job_id"),
			Back:    c.Back,
		})
	}
	return d.perform(w, r, c, func(ctx context.Context) (string, error) {
		n, err := d.insp.Apply(ctx, params)
		msg := fmt.Sprintf("%s %s of %s.", titleCase(pastTense[a]), formatInt(n), quantity(count, "job", "jobs"))
		if n != count {
			msg += " The others were not in a state the action applies to."
		}
		return msg, err
	})
}

// selectedIDs trims and de-duplicates posted job IDs, keeping their order.
func selectedIDs(raw []string) []string {
	seen := make(map[string]bool, len(raw))
	out := make([]string, 0, len(raw))
	for _, id := range raw {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
