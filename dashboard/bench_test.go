package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// BenchmarkJobListPage renders the jobs page of a 1,000,000-job queue at the first, a middle and
// the last page, for a signed-in viewer as the load benchmark (internal/loadtest) asks for it.
// The backend does the paging, so the three should cost the same: compare them with each
// other, not with absolute numbers, on a shared machine.
func BenchmarkJobListPage(b *testing.B) {
	d := benchDashboard(b)
	for _, page := range []string{"1", "5000", "50000"} {
		b.Run("page="+page, func(b *testing.B) {
			benchPage(b, d, "/queues/big/jobs?state=waiting&page="+page)
		})
	}
}

// BenchmarkOverview renders the overview of a store with ten queues, a worker and a full list
// of recent events, as a signed-in viewer sees it.
func BenchmarkOverview(b *testing.B) {
	d := benchDashboard(b)
	benchPage(b, d, "/")
}

func benchDashboard(b *testing.B) *Dashboard {
	b.Helper()
	mem := memory.New()
	b.Cleanup(func() { mem.Close() })
	ctx := context.Background()
	var jobs []*asyncmqtype.JobInfo
	for i := range 10 {
		for k := range 5 {
			jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("q%d-%d", i, k), Queue: fmt.Sprintf("queue-%d", i), Task: "load.order",
				Payload: []byte(fmt.Sprintf(`{"order":%d,"customer":"customer-%d"}`, k, k))})
		}
	}
	if err := mem.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs}); err != nil {
		b.Fatal(err)
	}
	if _, err := mem.Heartbeat(ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w1", Hostname: "h", Queues: []string{"queue-0"}, Concurrency: 4}}); err != nil {
		b.Fatal(err)
	}
	d, err := New(asyncmq.NewInspector(withPayloads{&bigQueue{Store: mem, total: 1_000_000}}),
		Config{Roles: true, Logger: quietLogger(), EventPollInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.Close)
	return d
}

// benchPage serves target to a viewer through the dashboard alone (no admin handler).
func benchPage(b *testing.B, d *Dashboard, target string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req = req.WithContext(admin.ContextWithUser(req.Context(), &admin.User{ID: "load-1", Roles: []string{"viewer"}}))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// withPayloads gives every job bigQueue lists a payload like the load benchmark's.
type withPayloads struct{ *bigQueue }

func (w withPayloads) ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	page, err := w.bigQueue.ListJobs(ctx, p)
	for i, j := range page.Jobs {
		j.Payload = []byte(fmt.Sprintf(`{"order":%d,"customer":"customer-%d"}`, p.Offset+i, (p.Offset+i)%1000))
	}
	return page, err
}
