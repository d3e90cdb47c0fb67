package dashboard

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// recentEvents is how many events the overview lists on load; the live stream adds more.
const recentEvents = 15

// overviewTTL is how long the overview's data is reused. Every viewer sees the same queues,
// workers and events, so within a second all page views share one set of backend reads; the
// live-update hub and the dashboard's own actions drop it sooner when they see a change.
const overviewTTL = time.Second

// overviewData is what the overview shows, read from the backend.
type overviewData struct {
	Queues    []asyncmqtype.QueueInfo
	Totals    map[asyncmqtype.State]int
	TotalJobs int
	Paused    int
	Workers   int
	Healthy   int
	Recent    []eventView
}

// overviewSnapshot is one reading of the overview's data with its rendered body per mount path.
// The body holds nothing of the viewer's (name, role, flash), so it is shared by everyone.
type overviewSnapshot struct {
	data overviewData

	mu     sync.Mutex
	bodies map[string]template.HTML
}

// eventView is an event as pages and the event stream show it: detail redacted.
type eventView struct {
	Cursor string            `json:"cursor"`
	Type   string            `json:"type"`
	Queue  string            `json:"queue"`
	JobID  string            `json:"job_id,omitempty"`
	Task   string            `json:"task,omitempty"`
	State  asyncmqtype.State `json:"state,omitempty"`
	At     time.Time         `json:"at"`
	Detail string            `json:"detail,omitempty"`
}

func (rd *redactor) event(e asyncmqtype.Event) eventView {
	return eventView{Cursor: e.Cursor, Type: string(e.Type), Queue: e.Queue, JobID: e.JobID, Task: e.Task,
		State: e.State, At: e.At, Detail: rd.TextPreview(e.Detail, 300)}
}

// eventRow is an event as a page lists it, with its links built.
type eventRow struct {
	Cursor   string
	Type     string
	Queue    string
	QueueURL string
	JobID    string
	JobURL   string
	Task     string
	State    asyncmqtype.State
	At       string
	AtISO    string
	Detail   string
}

func eventRows(base string, evs []eventView) []eventRow {
	rows := make([]eventRow, 0, len(evs))
	for _, e := range evs {
		row := eventRow{Cursor: e.Cursor, Type: e.Type, Queue: e.Queue, QueueURL: joinPath(base, "queues", e.Queue),
			JobID: e.JobID, Task: e.Task, State: e.State, At: formatTime(e.At), AtISO: isoTime(e.At), Detail: e.Detail}
		if e.JobID != "" {
			row.JobURL = joinPath(base, "queues", e.Queue, "jobs", e.JobID)
		}
		rows = append(rows, row)
	}
	return rows
}

// stateCount is one state's count, formatted, with the link to its listing where it has one.
type stateCount struct {
	State   asyncmqtype.State
	Count   string
	URL     string
	Current bool
}

type overviewQueue struct {
	Name   string
	URL    string
	Paused bool
	Counts []stateCount
}

// overviewBody is the overview's content for one mount path.
type overviewBody struct {
	QueueCount string
	Paused     string
	TotalJobs  string
	Workers    string
	Healthy    string
	States     []asyncmqtype.State
	Totals     []stateCount
	Queues     []overviewQueue
	Recent     []eventRow
	HistoryURL string
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) error {
	snap, err := d.overviewCache.get(r.Context())
	if err != nil {
		return err
	}
	body, err := d.overviewBody(snap, admin.BasePath(r))
	if err != nil {
		return err
	}
	return d.render(w, r, http.StatusOK, "overview", d.newPage(w, r, "Overview", "overview", body))
}

// loadOverview reads the overview's data: queues, workers and the newest events.
func (d *Dashboard) loadOverview(ctx context.Context) (*overviewSnapshot, error) {
	qs, err := d.insp.Queues(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := d.insp.Workers(ctx)
	if err != nil {
		return nil, err
	}
	recent, err := d.recent(ctx, recentEvents)
	if err != nil {
		return nil, err
	}
	data := overviewData{Queues: qs, Totals: make(map[asyncmqtype.State]int), Workers: len(ws), Recent: recent}
	for _, q := range qs {
		for s, n := range q.Counts {
			data.Totals[s] += n
			data.TotalJobs += n
		}
		if q.Paused {
			data.Paused++
		}
	}
	now := time.Now()
	for _, wk := range ws {
		if workerHealth(now, wk.LastHeartbeat, d.cfg.WorkerStaleAfter) == healthHealthy {
			data.Healthy++
		}
	}
	return &overviewSnapshot{data: data, bodies: make(map[string]template.HTML)}, nil
}

// overviewBody renders the snapshot's content for the mount path base, once per snapshot.
func (d *Dashboard) overviewBody(snap *overviewSnapshot, base string) (template.HTML, error) {
	snap.mu.Lock()
	defer snap.mu.Unlock()
	if b, ok := snap.bodies[base]; ok {
		return b, nil
	}
	data := snap.data
	v := overviewBody{
		QueueCount: formatInt(len(data.Queues)),
		Paused:     strconv.Itoa(data.Paused),
		TotalJobs:  formatInt(data.TotalJobs),
		Workers:    formatInt(data.Workers),
		Healthy:    strconv.Itoa(data.Healthy),
		States:     asyncmqtype.States,
		Recent:     eventRows(base, data.Recent),
		HistoryURL: joinPath(base, "metrics", "history"),
	}
	for _, s := range asyncmqtype.States {
		v.Totals = append(v.Totals, stateCount{State: s, Count: formatInt(data.Totals[s])})
	}
	for _, q := range data.Queues {
		oq := overviewQueue{Name: q.Name, URL: joinPath(base, "queues", q.Name), Paused: q.Paused}
		for _, s := range asyncmqtype.States {
			oq.Counts = append(oq.Counts, stateCount{State: s, Count: formatInt(q.Counts[s])})
		}
		v.Queues = append(v.Queues, oq)
	}
	buf := getWriter()
	defer putWriter(buf)
	if err := d.tpl.pages["overview"].ExecuteTemplate(&buf.Buffer, "overview-body", v); err != nil {
		return "", &renderError{fmt.Errorf("render overview: %w", err)}
	}
	// The body was escaped when it was rendered.
	b := template.HTML(buf.String())
	if len(snap.bodies) < maxSnapshotBodies {
		snap.bodies[base] = b
	}
	return b, nil
}

// recent returns the newest n events, newest first, with one read.
func (d *Dashboard) recent(ctx context.Context, n int) ([]eventView, error) {
	evs, err := d.insp.RecentEvents(ctx, asyncmqtype.RecentEventsParams{Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, d.redact.event(e))
	}
	return out, nil
}
