package dashboard

import (
	"net/http"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Worker health, judged from the age of the last heartbeat against Config.WorkerStaleAfter.
const (
	healthHealthy = "healthy"
	healthAging   = "aging"
	healthStale   = "stale"
	healthUnknown = "unknown"
)

func workerHealth(now, last time.Time, staleAfter time.Duration) string {
	if last.IsZero() || staleAfter <= 0 {
		return healthUnknown
	}
	age := now.Sub(last)
	switch {
	case age > staleAfter:
		return healthStale
	case age > staleAfter*2/3:
		return healthAging
	default:
		return healthHealthy
	}
}

type workerView struct {
	asyncmqtype.WorkerInfo
	Health string
	Age    time.Duration
	// Load is the share of the worker's concurrency in use, 0..100.
	Load int
}

type workersData struct {
	Workers    []workerView
	Total      int
	Healthy    int
	Attention  int
	Capacity   int
	Active     int
	Queues     []string
	StaleAfter time.Duration
	Pager      pager
}

func (d *Dashboard) workerList(w http.ResponseWriter, r *http.Request) error {
	ws, err := d.insp.Workers(r.Context())
	if err != nil {
		return err
	}
	now := time.Now()
	data := workersData{Total: len(ws), StaleAfter: d.cfg.WorkerStaleAfter}
	queues := make(map[string]bool)
	views := make([]workerView, 0, len(ws))
	for _, wk := range ws {
		v := workerView{WorkerInfo: wk, Health: workerHealth(now, wk.LastHeartbeat, d.cfg.WorkerStaleAfter), Age: now.Sub(wk.LastHeartbeat)}
		if wk.Concurrency > 0 {
			v.Load = min(100, wk.Active*100/wk.Concurrency)
		}
		switch v.Health {
		case healthHealthy:
			data.Healthy++
		case healthAging, healthStale:
			data.Attention++
		}
		data.Capacity += wk.Concurrency
		data.Active += wk.Active
		for _, q := range wk.Queues {
			queues[q] = true
		}
		views = append(views, v)
	}
	for q := range queues {
		data.Queues = append(data.Queues, q)
	}
	slices.Sort(data.Queues)
	// Worker records are few (one per process), so the dashboard pages them itself.
	data.Pager = newPager(r.URL.Query(), publicPath(r))
	data.Pager.setTotal(len(views))
	lo := min(data.Pager.offset(), len(views))
	data.Workers = views[lo:min(lo+data.Pager.Size, len(views))]
	return d.render(w, r, http.StatusOK, "workers", d.newPage(w, r, "Workers", "workers", data))
}
