package dashboard

import (
	"net/http"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// The dead-letter queue of a queue is its failed jobs: they ran out of retries. The page lists
// them with their last error and replays or deletes them, selected or all matching a filter.

func (d *Dashboard) dlqList(w http.ResponseWriter, r *http.Request) error {
	data, qi, err := d.listJobs(r, r.PathValue("name"), asyncmqtype.StateFailed)
	if err != nil {
		return err
	}
	base := admin.BasePath(r)
	data.DLQ = true
	d.bulkActions(r, &data, []string{"retry", "remove"}, joinPath(base, "queues", qi.Name, "dlq"))
	p := d.newPage(w, r, "Dead letters — "+qi.Name, "queues", &data)
	p.LiveQueue = qi.Name
	return d.render(w, r, http.StatusOK, "dlq", p)
}

func (d *Dashboard) dlqBulk(w http.ResponseWriter, r *http.Request) error {
	return d.bulk(w, r, bulkRequest{
		Queue: r.PathValue("name"), Source: "dlq.bulk", State: asyncmqtype.StateFailed,
		Allowed: []asyncmqtype.Action{asyncmqtype.ActionRetry, asyncmqtype.ActionRemove},
	})
}
