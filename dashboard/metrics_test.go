package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

func TestMetricsHistory(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.add(job("q", "t", ""), job("q", "t", ""), job("q", "t", ""))
	e.finishAll("q", asyncmqtype.OutcomeCompleted, "", "")
	e.add(job("q", "t", ""), job("other", "t", ""))
	e.finishAll("q", asyncmqtype.OutcomeFailed, "boom", "")

	r := e.get("/metrics/history?minutes=5")
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var h historyResponse
	if err := json.Unmarshal([]byte(r.body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Minutes != 5 || len(h.History) != 5 {
		t.Fatalf("minutes %d, %d points; want 5", h.Minutes, len(h.History))
	}
	for i := 1; i < len(h.History); i++ {
		if h.History[i].Unix-h.History[i-1].Unix != 60 {
			t.Fatalf("points are not one per minute: %v", h.History)
		}
	}
	tot := h.Totals
	if tot.Completed != 3 || tot.Failed != 1 || tot.Started != 4 || tot.AvgDurationMS != 40 {
		t.Errorf("totals = %+v, want 3 completed, 1 failed, 4 started, 40ms average", tot)
	}
	if h.Current[asyncmqtype.StateCompleted] != 3 || h.Current[asyncmqtype.StateWaiting] != 1 || h.Queues != 2 {
		t.Errorf("current = %v, queues %d", h.Current, h.Queues)
	}
	one := e.get("/metrics/history?queue=other")
	json.Unmarshal([]byte(one.body), &h)
	if h.Totals.Completed != 0 || h.Current[asyncmqtype.StateWaiting] != 1 {
		t.Errorf("queue filter: totals %+v current %v", h.Totals, h.Current)
	}
	for q, want := range map[string]int{"minutes=0": 1, "minutes=99999": 1440, "minutes=abc": 60, "limit=7": 7, "": 60} {
		r := e.get("/metrics/history?" + q)
		wantStatus(t, r, http.StatusOK)
		var h historyResponse
		json.Unmarshal([]byte(r.body), &h)
		if h.Minutes != want || len(h.History) != want {
			t.Errorf("%q: %d minutes, %d points; want %d", q, h.Minutes, len(h.History), want)
		}
	}
	page := e.get("/metrics?minutes=15")
	wantContains(t, page.body, `data-history-url="/asyncmq/metrics/history?minutes=15"`, "<td class=\"num\">3</td>", "25%")
}

func TestPrometheus(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.add(job("emails", "t", ""), job("emails", "t", ""))
	e.finishAll("emails", asyncmqtype.OutcomeCompleted, "", "")
	e.add(job("emails", "t", ""))
	e.finishAll("emails", asyncmqtype.OutcomeFailed, "boom", "")
	e.add(job(`we"ird\q name`, "t", ""))
	if err := e.insp.PauseQueue(context.Background(), "emails"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Heartbeat(context.Background(), backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{
		ID: "w1", Hostname: "h1", Concurrency: 8, Active: 3,
	}}); err != nil {
		t.Fatal(err)
	}
	r := e.get("/metrics/prometheus")
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != promContentType {
		t.Errorf("Content-Type = %q", ct)
	}
	wantContains(t, r.body,
		"# TYPE asyncmq_dashboard_ready gauge\nasyncmq_dashboard_ready 1\n",
		"asyncmq_queues 2\n",
		`asyncmq_queue_jobs{queue="emails",state="completed"} 2`,
		`asyncmq_queue_jobs{queue="emails",state="failed"} 1`,
		`asyncmq_queue_jobs{queue="emails",state="waiting"} 0`,
		`asyncmq_queue_jobs{queue="we\"ird\\q name",state="waiting"} 1`,
		`asyncmq_queue_paused{queue="emails"} 1`,
		"asyncmq_workers 1\n",
		`asyncmq_worker_concurrency{worker="w1",hostname="h1"} 8`,
		`asyncmq_worker_active_jobs{worker="w1",hostname="h1"} 3`,
		"# TYPE asyncmq_jobs_completed_total counter\n",
		`asyncmq_jobs_completed_total{queue="emails"} 2`,
		`asyncmq_jobs_failed_total{queue="emails"} 1`,
		`asyncmq_jobs_started_total{queue="emails"} 3`,
		"# TYPE asyncmq_job_duration_seconds histogram\n",
		`asyncmq_job_duration_seconds_bucket{queue="emails",le="0.025"} 0`,
		`asyncmq_job_duration_seconds_bucket{queue="emails",le="0.05"} 3`,
		`asyncmq_job_duration_seconds_bucket{queue="emails",le="+Inf"} 3`,
		`asyncmq_job_duration_seconds_sum{queue="emails"} 0.12`,
		`asyncmq_job_duration_seconds_count{queue="emails"} 3`,
	)
	// Every line is a comment or "name{labels} value" with a parseable value.
	for _, line := range strings.Split(strings.TrimSpace(r.body), "\n") {
		if strings.HasPrefix(line, "# ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.ContainsAny(line[i+1:], `"{}`) {
			t.Errorf("malformed sample line %q", line)
		}
	}
	// Counters never go down between scrapes, and settled minutes are not read twice.
	again := e.get("/metrics/prometheus")
	wantContains(t, again.body, `asyncmq_jobs_completed_total{queue="emails"} 2`)
}

// TestPrometheusHistogram finishes jobs of a queue whose name needs escaping with run times on,
// between and past the bucket bounds, and reads every line of its duration histogram.
func TestPrometheusHistogram(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const queue = "a\"b\\c d"
	durations := []time.Duration{time.Millisecond, 5 * time.Millisecond, 7 * time.Millisecond, 2 * time.Second, 2 * time.Minute}
	ctx := context.Background()
	for _, d := range durations {
		e.add(job(queue, "t", ""))
		jobs, err := e.b.Claim(ctx, backend.ClaimParams{Queue: queue, WorkerID: "w", Limit: 1, LeaseDuration: time.Minute})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v, %v", jobs, err)
		}
		if _, err := e.b.Finish(ctx, backend.FinishParams{Items: []backend.Finish{{JobID: jobs[0].ID, LeaseToken: jobs[0].LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: d}}}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.get("/metrics/prometheus")
	wantStatus(t, r, http.StatusOK)
	const label = `queue="a\"b\\c d"`
	var want []string
	for le, n := range map[string]int{
		"0.005": 2, "0.01": 3, "0.025": 3, "0.05": 3, "0.1": 3, "0.25": 3, "0.5": 3,
		"1": 3, "2.5": 4, "5": 4, "10": 4, "30": 4, "60": 4, "+Inf": 5,
	} {
		want = append(want, fmt.Sprintf("asyncmq_job_duration_seconds_bucket{%s,le=%q} %d\n", label, le, n))
	}
	want = append(want,
		"asyncmq_job_duration_seconds_sum{"+label+"} 122.013\n",
		"asyncmq_job_duration_seconds_count{"+label+"} 5\n",
	)
	wantContains(t, r.body, want...)
	if n := strings.Count(r.body, "asyncmq_job_duration_seconds_bucket{"+label); n != len(asyncmqtype.DurationBuckets)+1 {
		t.Errorf("%d buckets, want %d", n, len(asyncmqtype.DurationBuckets)+1)
	}
}

func TestEscapeLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:        `plain`,
		`a"b`:          `a\"b`,
		`a\b`:          `a\\b`,
		"a\nb":         `a\nb`,
		"\\\"\n":       `\\\"\n`,
		"tab\tand ünï": "tab\tand ünï",
	} {
		if got := escapeLabel(in); got != want {
			t.Errorf("escapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPromCountersFoldSettledMinutes(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 10, 30, 15, 0, time.UTC)
	clock := now
	mem := memory.New(memory.WithClock(func() time.Time { return clock }))
	t.Cleanup(func() { mem.Close() })
	insp := asyncmq.NewInspector(mem)
	ctx := context.Background()
	run := func(at time.Time, n int) {
		clock = at
		for range n {
			j := job("q", "t", "")
			j.CreatedAt, j.RunAt = at, at
			if err := mem.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: at}); err != nil {
				t.Fatal(err)
			}
			cl, err := mem.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute, Now: at})
			if err != nil || len(cl) != 1 {
				t.Fatalf("claim: %v %v", cl, err)
			}
			if _, err := mem.Finish(ctx, backend.FinishParams{Now: at, Items: []backend.Finish{{JobID: cl[0].ID, LeaseToken: cl[0].LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Second}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pc := newPromCounters()
	run(now.Add(-10*time.Minute), 2) // settled
	run(now, 3)                      // live
	c, err := pc.read(ctx, insp, now)
	if err != nil || c["q"].completed != 5 || c["q"].duration != 5*time.Second {
		t.Fatalf("first read = %+v, %v", c["q"], err)
	}
	if !pc.settled.Equal(now.Truncate(time.Minute).Add(-settleDelay)) {
		t.Errorf("settled = %v", pc.settled)
	}
	run(now.Add(time.Minute), 1)
	later := now.Add(time.Minute)
	c, _ = pc.read(ctx, insp, later)
	if c["q"].completed != 6 {
		t.Errorf("second read = %d completed, want 6", c["q"].completed)
	}
	// Minutes that settle between reads move into the base exactly once.
	c, _ = pc.read(ctx, insp, now.Add(10*time.Minute))
	c2, _ := pc.read(ctx, insp, now.Add(11*time.Minute))
	if c["q"].completed != 6 || c2["q"].completed != 6 {
		t.Errorf("after settling: %d then %d completed, want 6 and 6", c["q"].completed, c2["q"].completed)
	}
}

// brokenBackend fails every read with an error whose text must never reach a page.
type brokenBackend struct{ backend.Store }

var errBroken = errors.New("dial tcp 10.0.0.5:5432: postgres://app:swordfish@db refused")

func (brokenBackend) Ping(context.Context) error                              { return errBroken }
func (brokenBackend) Queues(context.Context) ([]asyncmqtype.QueueInfo, error) { return nil, errBroken }
func (brokenBackend) Queue(context.Context, string) (asyncmqtype.QueueInfo, error) {
	return asyncmqtype.QueueInfo{}, errBroken
}
func (brokenBackend) Workers(context.Context) ([]asyncmqtype.WorkerInfo, error) {
	return nil, errBroken
}
func (brokenBackend) LastEventCursor(context.Context) (string, error) { return "", errBroken }
func (brokenBackend) RecentEvents(context.Context, asyncmqtype.RecentEventsParams) ([]asyncmqtype.Event, error) {
	return nil, errBroken
}
func (brokenBackend) Events(context.Context, asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	return nil, errBroken
}
func (brokenBackend) Metrics(context.Context, asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	return nil, errBroken
}
func (brokenBackend) Audit(context.Context, asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error) {
	return nil, errBroken
}
func (brokenBackend) GetJob(context.Context, string) (*asyncmqtype.JobInfo, error) {
	return nil, errBroken
}

func TestBackendFailure(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	e := setup(t, withBackend(brokenBackend{mem}))
	for _, p := range []string{"/", "/queues", "/queues/q", "/queues/q/jobs", "/queues/q/jobs/x", "/workers", "/metrics", "/audit", "/events/history"} {
		r := e.get(p)
		wantStatus(t, r, http.StatusServiceUnavailable)
		wantContains(t, r.body, "The backend is unavailable", `data-testid="error-page"`)
		wantNotContains(t, r.body, "swordfish", "10.0.0.5")
	}
	r := e.get("/metrics/history")
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantContains(t, r.body, `"ok":false`)
	p := e.get("/metrics/prometheus")
	wantStatus(t, p, http.StatusServiceUnavailable)
	wantContains(t, p.body, "asyncmq_dashboard_ready 0\n")
	wantNotContains(t, p.body, "swordfish", "asyncmq_queues")
	ready := e.get("/ready")
	wantStatus(t, ready, http.StatusServiceUnavailable)
	wantNotContains(t, ready.body, "swordfish")
	if err := e.d.Ready(context.Background()); !errors.Is(err, errBroken) {
		t.Errorf("Ready = %v, want the backend's error", err)
	}
	s := e.get("/events")
	wantStatus(t, s, http.StatusServiceUnavailable)
	wantNotContains(t, s.body, "swordfish")
	// The action itself fails before the job is read; the audit entry is attempted and logged.
	wantStatus(t, e.post("/queues/q/jobs/x/retry", nil), http.StatusServiceUnavailable)
}

func TestReadyAndHealthThroughAdmin(t *testing.T) {
	t.Parallel()
	e := setup(t)
	wantStatus(t, e.get("/ready"), http.StatusOK)
	wantStatus(t, e.get("/health"), http.StatusOK)
	if err := e.d.Ready(context.Background()); err != nil {
		t.Errorf("Ready = %v", err)
	}
}

// runTask enqueues one job of task in queue whose RunAt is base, claims it wait later and
// finishes it with outcome after a run of dur, all in one past minute of the stats window.
func runTask(t *testing.T, e *env, queue, task string, base time.Time, wait, dur time.Duration, outcome asyncmqtype.Outcome) {
	t.Helper()
	ctx := context.Background()
	j := job(queue, task, "")
	j.RunAt = base
	e.add(j)
	jobs, err := e.b.Claim(ctx, backend.ClaimParams{Queue: queue, WorkerID: "w", Limit: 1, LeaseDuration: time.Hour, Now: base.Add(wait)})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	f := backend.Finish{JobID: jobs[0].ID, LeaseToken: jobs[0].LeaseToken, Outcome: outcome, Duration: dur}
	if outcome == asyncmqtype.OutcomeFailed {
		f.Error = &asyncmqtype.AttemptError{Error: "boom"}
	}
	if _, err := e.b.Finish(ctx, backend.FinishParams{Now: base.Add(wait + dur), Items: []backend.Finish{f}}); err != nil {
		t.Fatal(err)
	}
}

// TestQueuePageTaskPercentiles seeds two tasks of one queue with known run times and waits and
// reads their rows on the queue page and in the API. "fast": four runs of 60ms, each in the
// (50ms, 100ms] bucket, waits of 1.5s. "slow": 300ms and 700ms (one in (250ms, 500ms], one in
// (500ms, 1s]), waits of 4s and 6s. Interpolating within the bucket, fast's p50 is 75ms, p95
// 97.5ms and p99 99.5ms; slow's p50 500ms, p95 950ms and p99 990ms.
func TestQueuePageTaskPercentiles(t *testing.T) {
	t.Parallel()
	e := setup(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	for range 3 {
		runTask(t, e, "q", "fast", base, 1500*time.Millisecond, 60*time.Millisecond, asyncmqtype.OutcomeCompleted)
	}
	runTask(t, e, "q", "fast", base, 1500*time.Millisecond, 60*time.Millisecond, asyncmqtype.OutcomeFailed)
	runTask(t, e, "q", "slow", base, 4*time.Second, 300*time.Millisecond, asyncmqtype.OutcomeCompleted)
	runTask(t, e, "q", "slow", base, 6*time.Second, 700*time.Millisecond, asyncmqtype.OutcomeFailed)
	runTask(t, e, "other", "elsewhere", base, time.Second, time.Second, asyncmqtype.OutcomeCompleted)

	r := e.get("/queues/q")
	wantStatus(t, r, http.StatusOK)
	wantCSPSafe(t, r.body)
	row := func(task string) string {
		i := strings.Index(r.body, `<tr data-task="`+task+`">`)
		if i < 0 {
			t.Fatalf("queue page has no row for task %s:\n%s", task, r.body)
		}
		return r.body[i : i+strings.Index(r.body[i:], "</tr>")]
	}
	for task, cells := range map[string][]string{
		"fast": {`data-col="runs">4<`, `data-col="failed">1<`, `data-col="p50">75ms<`, `data-col="p95">97ms<`, `data-col="p99">99ms<`, `data-col="wait">1.5s<`},
		"slow": {`data-col="runs">2<`, `data-col="failed">1<`, `data-col="p50">500ms<`, `data-col="p95">950ms<`, `data-col="p99">990ms<`, `data-col="wait">5.0s<`},
	} {
		wantContains(t, row(task), cells...)
	}
	if strings.Index(r.body, `data-task="fast"`) > strings.Index(r.body, `data-task="slow"`) {
		t.Error("task rows are not busiest first: fast (4 runs) should come before slow (2)")
	}
	wantNotContains(t, r.body, `data-task="elsewhere"`)

	// Choosing a task points the charts at its history.
	r = e.get("/queues/q?task=slow")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.body, `<option value="slow" selected>task slow</option>`, `data-testid="queue-charts" data-task="slow"`, `data-chart="percentiles" data-history-url="/asyncmq/metrics/history?minutes=60&amp;queue=q&amp;task=slow"`)
	r = e.get("/metrics/history?minutes=60&queue=q&task=slow")
	wantStatus(t, r, http.StatusOK)
	var h struct {
		Totals struct {
			Completed, Failed, Started int64
			P50MS                      float64 `json:"p50_ms"`
			P99MS                      float64 `json:"p99_ms"`
			AvgWaitMS                  float64 `json:"avg_wait_ms"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(r.body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Totals.Completed != 1 || h.Totals.Failed != 1 || h.Totals.Started != 2 || h.Totals.P50MS != 500 || h.Totals.P99MS != 990 || h.Totals.AvgWaitMS != 5000 {
		t.Errorf("history of task slow: totals %+v, want 1 completed, 1 failed, 2 started, p50 500, p99 990, wait 5000", h.Totals)
	}

	// The API gives the same figures, per task, in the queue's stats.
	r = e.get("/api/v1/queues/q")
	wantStatus(t, r, http.StatusOK)
	var q struct {
		Stats struct {
			Tasks []map[string]any `json:"tasks"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(r.body), &q); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"queue": "q", "task": "fast", "completed": 3.0, "failed": 1.0, "retried": 0.0, "started": 4.0, "avg_duration_ms": 60.0, "avg_wait_ms": 1500.0, "p50_ms": 75.0, "p95_ms": 97.5, "p99_ms": 99.5},
		{"queue": "q", "task": "slow", "completed": 1.0, "failed": 1.0, "retried": 0.0, "started": 2.0, "avg_duration_ms": 500.0, "avg_wait_ms": 5000.0, "p50_ms": 500.0, "p95_ms": 950.0, "p99_ms": 990.0},
	}
	if !reflect.DeepEqual(q.Stats.Tasks, want) {
		t.Errorf("API task stats:\n got %v\nwant %v", q.Stats.Tasks, want)
	}
}
