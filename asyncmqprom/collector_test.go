package asyncmqprom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqprom"
)

func setup(t *testing.T) (*asyncmqprom.Collector, *prometheus.Registry, asyncmq.Handler) {
	t.Helper()
	c := asyncmqprom.NewCollector(asyncmqprom.Options{ConstLabels: prometheus.Labels{"service": "billing"}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := asyncmq.NewServeMux()
	mux.Use(c.Middleware)
	mux.HandleFunc("ok", func(ctx context.Context, j *asyncmq.Job) error { return nil })
	mux.HandleFunc("bad", func(ctx context.Context, j *asyncmq.Job) error { return errors.New("boom") })
	mux.HandleFunc("fatal", func(ctx context.Context, j *asyncmq.Job) error { return asyncmq.SkipRetry })
	mux.HandleFunc("panic", func(ctx context.Context, j *asyncmq.Job) error { panic("oops") })
	return c, reg, mux
}

func run(t *testing.T, h asyncmq.Handler, task string) {
	t.Helper()
	j := asyncmq.NewTestJob(task, nil)
	j.RunAt = time.Now().Add(-2 * time.Second)
	defer func() { _ = recover() }()
	_ = h.ProcessJob(context.Background(), j)
}

func TestCollectorCountsOutcomes(t *testing.T) {
	t.Parallel()
	c, reg, h := setup(t)
	for _, task := range []string{"ok", "ok", "bad", "fatal", "panic"} {
		run(t, h, task)
	}
	want := `
# HELP asyncmq_worker_jobs_total Job attempts this process ran, by outcome: completed, retry, failed or cancelled.
# TYPE asyncmq_worker_jobs_total counter
asyncmq_worker_jobs_total{outcome="completed",queue="default",service="billing",task="ok"} 2
asyncmq_worker_jobs_total{outcome="failed",queue="default",service="billing",task="fatal"} 1
asyncmq_worker_jobs_total{outcome="retry",queue="default",service="billing",task="bad"} 1
asyncmq_worker_jobs_total{outcome="retry",queue="default",service="billing",task="panic"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "asyncmq_worker_jobs_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "asyncmq_worker_job_wait_seconds"); n != 4 {
		t.Errorf("wait histograms = %d, want one per task (4)", n)
	}
	// The running gauge is back to zero for every task.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "asyncmq_worker_jobs_running" {
			for _, m := range mf.GetMetric() {
				if v := m.GetGauge().GetValue(); v != 0 {
					t.Errorf("jobs_running = %v after every job ended, want 0", v)
				}
			}
		}
		if mf.GetName() == "asyncmq_worker_job_wait_seconds" {
			for _, m := range mf.GetMetric() {
				if s := m.GetHistogram().GetSampleSum(); s < 2 {
					t.Errorf("wait sum %v, want at least the 2s since RunAt", s)
				}
			}
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
