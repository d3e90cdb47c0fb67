package dashboard

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// recentEvents is how many events the overview lists on load; the live stream adds more.
const recentEvents = 15

type overviewData struct {
	Queues    []backend.QueueInfo
	Totals    map[backend.State]int
	TotalJobs int
	Paused    int
	Workers   int
	Healthy   int
	Recent    []eventView
}

// eventView is an event as pages and the event stream show it: detail redacted.
type eventView struct {
	ID     int64         `json:"id"`
	Type   string        `json:"type"`
	Queue  string        `json:"queue"`
	JobID  string        `json:"job_id,omitempty"`
	Task   string        `json:"task,omitempty"`
	State  backend.State `json:"state,omitempty"`
	At     time.Time     `json:"at"`
	Detail string        `json:"detail,omitempty"`
}

func (rd *redactor) event(e backend.Event) eventView {
	return eventView{ID: e.ID, Type: string(e.Type), Queue: e.Queue, JobID: e.JobID, Task: e.Task,
		State: e.State, At: e.At, Detail: truncate(300, rd.Text(e.Detail))}
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	qs, err := d.insp.Queues(ctx)
	if err != nil {
		return err
	}
	ws, err := d.insp.Workers(ctx)
	if err != nil {
		return err
	}
	recent, err := d.recent(ctx, recentEvents)
	if err != nil {
		return err
	}
	data := overviewData{Queues: qs, Totals: make(map[backend.State]int), Workers: len(ws), Recent: recent}
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
	return d.render(w, r, http.StatusOK, "overview", d.newPage(w, r, "Overview", "overview", data))
}

// recent returns the newest n events, newest first, with two cheap reads.
func (d *Dashboard) recent(ctx context.Context, n int) ([]eventView, error) {
	last, err := d.insp.LastEventID(ctx)
	if err != nil {
		return nil, err
	}
	evs, err := d.insp.Events(ctx, backend.EventsParams{AfterID: max(0, last-int64(n)), Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, d.redact.event(e))
	}
	slices.Reverse(out)
	return out, nil
}
