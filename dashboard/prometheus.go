package dashboard

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// The Prometheus endpoint writes the text exposition format (version 0.0.4) by hand: queue and
// worker gauges read live, and job counters, the duration histogram and the wait summary built
// from the backend's per-minute buckets.

const promContentType = "text/plain; version=0.0.4; charset=utf-8"

// settleDelay is how long after a minute ends its bucket is taken as final: workers on other
// hosts may still be adding to it for a little while.
const settleDelay = 2 * time.Minute

// counterSet is the cumulative counters of one queue.
type counterSet struct {
	completed, failed, retried, started int64
	duration, wait                      time.Duration
	// durations counts run times per bucket of asyncmqtype.DurationBuckets, not cumulatively.
	durations [len(asyncmqtype.DurationBuckets) + 1]int64
}

func (c *counterSet) add(b asyncmqtype.MetricBucket) {
	c.completed += b.Completed
	c.failed += b.Failed
	c.retried += b.Retried
	c.started += b.Started
	c.duration += b.DurationSum
	c.wait += b.WaitSum
	// A backend built before the histogram returns no counts; one with more buckets than
	// this build knows cannot be placed, and is left out rather than misplaced.
	if len(b.DurationCounts) == len(c.durations) {
		for i, n := range b.DurationCounts {
			c.durations[i] += n
		}
	}
}

// merge adds the counters of o.
func (c *counterSet) merge(o counterSet) {
	c.completed += o.completed
	c.failed += o.failed
	c.retried += o.retried
	c.started += o.started
	c.duration += o.duration
	c.wait += o.wait
	for i, n := range o.durations {
		c.durations[i] += n
	}
}

// promCounters turns per-minute buckets into monotonic counters without re-reading the whole
// history on every scrape: settled minutes are folded into a base once, and each scrape reads
// only the buckets since. A counter may restart when the dashboard does, which Prometheus's
// rate() handles as a reset.
type promCounters struct {
	mu      sync.Mutex
	settled time.Time // every bucket before this minute is in base
	base    map[string]*counterSet
}

func newPromCounters() *promCounters {
	return &promCounters{base: make(map[string]*counterSet)}
}

// read returns the current counters per queue.
func (pc *promCounters) read(ctx context.Context, insp *asyncmq.Inspector, now time.Time) (map[string]counterSet, error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	buckets, err := insp.Metrics(ctx, asyncmqtype.MetricsParams{Since: pc.settled, Until: now})
	if err != nil {
		return nil, err
	}
	settle := now.Truncate(time.Minute).Add(-settleDelay)
	live := make(map[string]counterSet, len(pc.base))
	for _, b := range buckets {
		m := b.Minute.UTC()
		if m.Before(pc.settled) {
			continue
		}
		if m.Before(settle) {
			c := pc.base[b.Queue]
			if c == nil {
				c = &counterSet{}
				pc.base[b.Queue] = c
			}
			c.add(b)
			continue
		}
		c := live[b.Queue]
		c.add(b)
		live[b.Queue] = c
	}
	if settle.After(pc.settled) {
		pc.settled = settle
	}
	out := make(map[string]counterSet, len(pc.base)+len(live))
	for q, c := range pc.base {
		out[q] = *c
	}
	for q, c := range live {
		o := out[q]
		o.merge(c)
		out[q] = o
	}
	return out, nil
}

type promWriter struct {
	bytes.Buffer
}

func (p *promWriter) family(name, typ, help string) {
	p.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes one sample; labels alternate name and value.
func (p *promWriter) sample(name string, value float64, labels ...string) {
	p.WriteString(name)
	if len(labels) > 0 {
		p.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.WriteByte(',')
			}
			p.WriteString(labels[i] + `="` + escapeLabel(labels[i+1]) + `"`)
		}
		p.WriteByte('}')
	}
	p.WriteByte(' ')
	p.WriteString(promFloat(value))
	p.WriteByte('\n')
}

// promFloat formats a sample value or an le bound as Prometheus clients do: 0.005, 1, 2.5.
func promFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escapeLabel escapes a label value as the exposition format requires: backslash, double quote
// and line feed.
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// PrometheusHandler serves the Prometheus exposition of /metrics/prometheus on its own, without
// the admin gate, for a listener that only scrapers reach (asyncmq serve --metrics-addr). It
// shows queue names, worker host names and counts, never payloads.
func (d *Dashboard) PrometheusHandler() http.Handler { return http.HandlerFunc(d.prometheus) }

func (d *Dashboard) prometheus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := time.Now().UTC()
	var out promWriter
	qs, err := d.insp.Queues(ctx)
	var ws []asyncmqtype.WorkerInfo
	if err == nil {
		ws, err = d.insp.Workers(ctx)
	}
	var counters map[string]counterSet
	if err == nil {
		counters, err = d.counters.read(ctx, d.insp, now)
	}
	out.family("asyncmq_dashboard_ready", "gauge", "Whether the dashboard could read the backend (1) or not (0).")
	w.Header().Set("Content-Type", promContentType)
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard metrics scrape failed", "err", err)
		out.sample("asyncmq_dashboard_ready", 0)
		out.WriteString("# backend unavailable\n")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(out.Bytes())
		return
	}
	out.sample("asyncmq_dashboard_ready", 1)

	// A gauge must not end in _total (promlint): the names were asyncmq_queue_total and
	// asyncmq_worker_total before.
	out.family("asyncmq_queues", "gauge", "Number of known queues.")
	out.sample("asyncmq_queues", float64(len(qs)))
	out.family("asyncmq_queue_jobs", "gauge", "Jobs in a queue by state.")
	for _, q := range qs {
		for _, s := range asyncmqtype.States {
			out.sample("asyncmq_queue_jobs", float64(q.Counts[s]), "queue", q.Name, "state", string(s))
		}
	}
	out.family("asyncmq_queue_paused", "gauge", "Whether a queue is paused (1) or not (0).")
	for _, q := range qs {
		out.sample("asyncmq_queue_paused", b2f(q.Paused), "queue", q.Name)
	}

	slices.SortFunc(ws, func(a, b asyncmqtype.WorkerInfo) int { return strings.Compare(a.ID, b.ID) })
	out.family("asyncmq_workers", "gauge", "Number of registered workers.")
	out.sample("asyncmq_workers", float64(len(ws)))
	out.family("asyncmq_worker_concurrency", "gauge", "Jobs a worker may run at once.")
	for _, wk := range ws {
		out.sample("asyncmq_worker_concurrency", float64(wk.Concurrency), "worker", wk.ID, "hostname", wk.Hostname)
	}
	out.family("asyncmq_worker_active_jobs", "gauge", "Jobs a worker holds.")
	for _, wk := range ws {
		out.sample("asyncmq_worker_active_jobs", float64(wk.Active), "worker", wk.ID, "hostname", wk.Hostname)
	}
	out.family("asyncmq_worker_heartbeat_age_seconds", "gauge", "Seconds since a worker's last heartbeat.")
	for _, wk := range ws {
		out.sample("asyncmq_worker_heartbeat_age_seconds", max(0, now.Sub(wk.LastHeartbeat).Seconds()), "worker", wk.ID, "hostname", wk.Hostname)
	}

	names := make([]string, 0, len(counters))
	for q := range counters {
		names = append(names, q)
	}
	slices.Sort(names)
	for _, c := range []struct {
		name, help string
		get        func(counterSet) int64
	}{
		{"asyncmq_jobs_completed_total", "Job attempts that completed.", func(c counterSet) int64 { return c.completed }},
		{"asyncmq_jobs_failed_total", "Job attempts that failed for the last time.", func(c counterSet) int64 { return c.failed }},
		{"asyncmq_jobs_retried_total", "Job attempts that failed and were scheduled again.", func(c counterSet) int64 { return c.retried }},
		{"asyncmq_jobs_started_total", "Job attempts that started.", func(c counterSet) int64 { return c.started }},
	} {
		out.family(c.name, "counter", c.help)
		for _, q := range names {
			out.sample(c.name, float64(c.get(counters[q])), "queue", q)
		}
	}
	out.family("asyncmq_job_duration_seconds", "histogram", "Handler run time of completed and failed job attempts.")
	for _, q := range names {
		c := counters[q]
		var n int64
		for i, bound := range asyncmqtype.DurationBuckets {
			n += c.durations[i]
			out.sample("asyncmq_job_duration_seconds_bucket", float64(n), "queue", q, "le", promFloat(bound.Seconds()))
		}
		n += c.durations[len(asyncmqtype.DurationBuckets)]
		out.sample("asyncmq_job_duration_seconds_bucket", float64(n), "queue", q, "le", "+Inf")
		out.sample("asyncmq_job_duration_seconds_sum", c.duration.Seconds(), "queue", q)
		// The count is the +Inf bucket's, as the format requires: jobs failed by stall recovery
		// had no run time and are in asyncmq_jobs_failed_total only.
		out.sample("asyncmq_job_duration_seconds_count", float64(n), "queue", q)
	}
	out.family("asyncmq_job_wait_seconds", "summary", "Time from enqueue to start of started job attempts.")
	for _, q := range names {
		c := counters[q]
		out.sample("asyncmq_job_wait_seconds_sum", c.wait.Seconds(), "queue", q)
		out.sample("asyncmq_job_wait_seconds_count", float64(c.started), "queue", q)
	}
	_, _ = w.Write(out.Bytes())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
