package dashboard

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestPrometheusExpositionPassesPromlint runs promlint, the linter Prometheus ships, over a
// scrape with queues, workers and finished jobs, so that every family is present.
func TestPrometheusExpositionPassesPromlint(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.add(job("emails", "t", ""), job("emails", "t", ""))
	e.finishAll("emails", asyncmqtype.OutcomeCompleted, "", "")
	if _, err := e.b.Heartbeat(context.Background(), backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w1", Hostname: "h1", Concurrency: 2}}); err != nil {
		t.Fatal(err)
	}
	r := e.get("/metrics/prometheus")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.body, "# TYPE asyncmq_queues gauge\n", "# TYPE asyncmq_workers gauge\n")
	problems, err := promlint.New(strings.NewReader(r.body)).Lint()
	if err != nil {
		t.Fatalf("promlint could not parse the exposition: %v\n%s", err, r.body)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
