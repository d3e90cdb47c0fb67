package dashboard

import (
	"net/http"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/backend"
)

// The dead-letter queue of a queue is its failed jobs: they ran out of retries. The page lists
// them with their last error and replays or deletes them, selected or all matching a filter.

func (d *Dashboard) dlqList(w http.ResponseWriter, r *http.Request) error {
	data, err := d.listJobs(r, r.PathValue("name"), backend.StateFailed, r.URL.Query())
	if err != nil {
		return err
	}
	data.Bulk = []string{"retry", "remove"}
	data.BulkURL = joinPath(admin.BasePath(r), "queues", data.Queue.Name, "dlq")
	p := d.newPage(w, r, "Dead letters — "+data.Queue.Name, "queues", data)
	p.LiveQueue = data.Queue.Name
	return d.render(w, r, http.StatusOK, "dlq", p)
}

func (d *Dashboard) dlqBulk(w http.ResponseWriter, r *http.Request) error {
	return d.bulk(w, r, bulkRequest{
		Queue: r.PathValue("name"), Source: "dlq.bulk", State: backend.StateFailed,
		Allowed: []backend.Action{backend.ActionRetry, backend.ActionRemove},
	})
}
