package dashboard

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// metricWindows are the windows the metrics page offers, in minutes.
var metricWindows = []int{15, 60, 360, 1440}

const (
	defaultWindow = 60
	maxWindow     = 1440
)

// metricPoint is one minute of counters summed over the selected queues.
type metricPoint struct {
	Time time.Time `json:"time"`
	Unix int64     `json:"ts"`
	pointStats

	durationSum time.Duration
	waitSum     time.Duration
	histogram   [len(asyncmqtype.DurationBuckets) + 1]int64
}

// pointStats are the figures of a metricPoint as the pages, the history endpoint and the API
// show them, for a minute, a queue or a task.
type pointStats struct {
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Retried   int64 `json:"retried"`
	Started   int64 `json:"started"`
	// AvgDurationMS is the mean handler run time of the minute's finished attempts.
	AvgDurationMS float64 `json:"avg_duration_ms"`
	// AvgWaitMS is the mean enqueue-to-start latency of the minute's started attempts.
	AvgWaitMS float64 `json:"avg_wait_ms"`
	// P50MS, P95MS and P99MS are run time percentiles of the minute's finished attempts,
	// estimated from the store's duration histogram (asyncmqtype.DurationBuckets) by linear
	// interpolation within a bucket; 0 when nothing finished.
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`
}

func (p *metricPoint) add(b asyncmqtype.MetricBucket) {
	p.Completed += b.Completed
	p.Failed += b.Failed
	p.Retried += b.Retried
	p.Started += b.Started
	p.durationSum += b.DurationSum
	p.waitSum += b.WaitSum
	for i, n := range b.DurationCounts {
		if i < len(p.histogram) {
			p.histogram[i] += n
		}
	}
}

func (p *metricPoint) finish() {
	if n := p.Completed + p.Failed; n > 0 {
		p.AvgDurationMS = round2(float64(p.durationSum) / float64(n) / float64(time.Millisecond))
	}
	if p.Started > 0 {
		p.AvgWaitMS = round2(float64(p.waitSum) / float64(p.Started) / float64(time.Millisecond))
	}
	p.P50MS = durationPercentile(p.histogram[:], 0.50)
	p.P95MS = durationPercentile(p.histogram[:], 0.95)
	p.P99MS = durationPercentile(p.histogram[:], 0.99)
}

// durationPercentile estimates the q-quantile (0..1), in milliseconds, of the run times counted
// per bucket in counts (laid out as MetricBucket.DurationCounts), interpolating linearly within
// the bucket that holds it. The last bucket has no upper bound, so a quantile falling in it is
// reported as the last bound: a floor, the honest answer a histogram allows.
func durationPercentile(counts []int64, q float64) float64 {
	var total int64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range counts {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		if i >= len(asyncmqtype.DurationBuckets) {
			break
		}
		var lo time.Duration
		if i > 0 {
			lo = asyncmqtype.DurationBuckets[i-1]
		}
		hi := asyncmqtype.DurationBuckets[i]
		frac := (rank - float64(seen)) / float64(n)
		return round2((float64(lo) + frac*float64(hi-lo)) / float64(time.Millisecond))
	}
	return round2(float64(asyncmqtype.DurationBuckets[len(asyncmqtype.DurationBuckets)-1]) / float64(time.Millisecond))
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Throughput is completed jobs per minute over the window.
func (p metricPoint) Throughput(minutes int) float64 {
	return round2(float64(p.Completed) / float64(max(minutes, 1)))
}

// FailureRate is the share of finished attempts that failed, in percent.
func (p metricPoint) FailureRate() float64 {
	if n := p.Completed + p.Failed; n > 0 {
		return round2(float64(p.Failed) * 100 / float64(n))
	}
	return 0
}

// AvgDuration and AvgWait format the means for the page.
func (p metricPoint) AvgDuration() string {
	return formatDuration(time.Duration(p.AvgDurationMS * float64(time.Millisecond)))
}

func (p metricPoint) AvgWait() string {
	return formatDuration(time.Duration(p.AvgWaitMS * float64(time.Millisecond)))
}

// P50, P95 and P99 format the run time percentiles for the page.
func (p metricPoint) P50() string { return formatMS(p.P50MS) }

// P95 formats the 95th run time percentile.
func (p metricPoint) P95() string { return formatMS(p.P95MS) }

// P99 formats the 99th run time percentile.
func (p metricPoint) P99() string { return formatMS(p.P99MS) }

func formatMS(ms float64) string {
	return formatDuration(time.Duration(ms * float64(time.Millisecond)))
}

// window returns the first minute and the end of the last minutes, the window every metrics
// view reads.
func window(minutes int) (start, now time.Time) {
	now = time.Now().UTC()
	return now.Truncate(time.Minute).Add(-time.Duration(minutes-1) * time.Minute), now
}

// history reads the per-minute counters of the last minutes (one backend call), of one task
// when task is set, and returns one point per minute, oldest first, zero-filled, plus per-queue
// and overall sums.
func (d *Dashboard) history(ctx context.Context, queue, task string, minutes int) ([]metricPoint, map[string]*metricPoint, metricPoint, error) {
	start, now := window(minutes)
	buckets, err := d.insp.Metrics(ctx, asyncmqtype.MetricsParams{Queue: queue, Task: task, Since: start, Until: now})
	if err != nil {
		return nil, nil, metricPoint{}, err
	}
	points := make([]metricPoint, minutes)
	for i := range points {
		t := start.Add(time.Duration(i) * time.Minute)
		points[i] = metricPoint{Time: t, Unix: t.Unix()}
	}
	perQueue := make(map[string]*metricPoint)
	var total metricPoint
	for _, b := range buckets {
		i := int(b.Minute.UTC().Truncate(time.Minute).Sub(start) / time.Minute)
		if i < 0 || i >= minutes {
			continue
		}
		points[i].add(b)
		pq := perQueue[b.Queue]
		if pq == nil {
			pq = &metricPoint{}
			perQueue[b.Queue] = pq
		}
		pq.add(b)
		total.add(b)
	}
	for i := range points {
		points[i].finish()
	}
	for _, pq := range perQueue {
		pq.finish()
	}
	total.finish()
	return points, perQueue, total, nil
}

// parseWindow reads ?minutes= (or AsyncMQ's ?limit=), clamped to 1..1440.
func parseWindow(r *http.Request) int {
	q := r.URL.Query()
	v := q.Get("minutes")
	if v == "" {
		v = q.Get("limit")
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return defaultWindow
	}
	return min(max(n, 1), maxWindow)
}

type queueMetrics struct {
	Name string
	metricPoint
}

// windowOption is one window of the metrics page's select.
type windowOption struct {
	Minutes  int
	Label    string
	Selected bool
}

// windowLabel names a window of minutes: "15 minutes", "1 hour", "24 hours".
func windowLabel(minutes int) string {
	if minutes >= 60 && minutes%60 == 0 {
		return quantity(minutes/60, "hour", "hours")
	}
	return quantity(minutes, "minute", "minutes")
}

type metricsData struct {
	Minutes int
	// Window names the window shown: "1 hour".
	Window     string
	Windows    []windowOption
	Queue      string
	Total      metricPoint
	Queues     []queueMetrics
	Counts     map[asyncmqtype.State]int
	Workers    int
	HistoryURL string
}

func (d *Dashboard) metricsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	minutes := parseWindow(r)
	queue := strings.TrimSpace(r.URL.Query().Get("queue"))
	_, perQueue, total, err := d.history(ctx, queue, "", minutes)
	if err != nil {
		return err
	}
	qs, err := d.insp.Queues(ctx)
	if err != nil {
		return err
	}
	ws, err := d.insp.Workers(ctx)
	if err != nil {
		return err
	}
	data := metricsData{Minutes: minutes, Window: windowLabel(minutes), Queue: queue, Total: total,
		Counts: currentCounts(qs, queue), Workers: len(ws)}
	for _, m := range metricWindows {
		data.Windows = append(data.Windows, windowOption{Minutes: m, Label: windowLabel(m), Selected: m == minutes})
	}
	for name, pq := range perQueue {
		data.Queues = append(data.Queues, queueMetrics{Name: name, metricPoint: *pq})
	}
	slices.SortFunc(data.Queues, func(a, b queueMetrics) int { return strings.Compare(a.Name, b.Name) })
	p := d.newPage(w, r, "Metrics", "metrics", data)
	data.HistoryURL = withQuery(p.Path("metrics", "history"), nil, "minutes", strconv.Itoa(minutes), "queue", queue)
	p.Data = data
	return d.render(w, r, http.StatusOK, "metrics", p)
}

// taskMetrics is one task's counters summed over a window.
type taskMetrics struct {
	Queue string
	Task  string
	metricPoint
}

// taskMetricsJSON is a taskMetrics as the history endpoint and the API show it.
type taskMetricsJSON struct {
	Queue string `json:"queue"`
	Task  string `json:"task"`
	pointStats
}

func (t taskMetrics) json() taskMetricsJSON {
	return taskMetricsJSON{Queue: t.Queue, Task: t.Task, pointStats: t.pointStats}
}

// Runs is how many attempts of the task finished (completed or failed) in the window.
func (t taskMetrics) Runs() int64 { return t.Completed + t.Failed }

// taskStats sums the last minutes of each task of queue (of every queue when ""; only task when
// set), busiest first (most attempts: started, completed, failed and retried), then by queue
// and name. The store answers for at most asyncmqtype.MetricTasksLimit tasks.
func (d *Dashboard) taskStats(ctx context.Context, queue, task string, minutes int) ([]taskMetrics, error) {
	start, now := window(minutes)
	buckets, err := d.insp.Metrics(ctx, asyncmqtype.MetricsParams{Queue: queue, Task: task, ByTask: true, Since: start, Until: now})
	if err != nil {
		return nil, err
	}
	type key struct{ queue, task string }
	sums := make(map[key]*metricPoint)
	for _, b := range buckets {
		if b.Minute.Before(start) {
			continue
		}
		k := key{b.Queue, b.Task}
		if sums[k] == nil {
			sums[k] = &metricPoint{}
		}
		sums[k].add(b)
	}
	out := make([]taskMetrics, 0, len(sums))
	for k, p := range sums {
		p.finish()
		out = append(out, taskMetrics{Queue: k.queue, Task: k.task, metricPoint: *p})
	}
	slices.SortFunc(out, func(a, b taskMetrics) int {
		n := func(t taskMetrics) int64 { return t.Started + t.Completed + t.Failed + t.Retried }
		return cmp.Or(cmp.Compare(n(b), n(a)), strings.Compare(a.Queue, b.Queue), strings.Compare(a.Task, b.Task))
	})
	return out, nil
}

type historyResponse struct {
	Minutes int    `json:"minutes"`
	Queue   string `json:"queue,omitempty"`
	Task    string `json:"task,omitempty"`
	// Tasks are the window's per-task sums, with ?by=task only.
	Tasks   *[]taskMetricsJSON        `json:"tasks,omitempty"`
	History []metricPoint             `json:"history"`
	Totals  metricPoint               `json:"totals"`
	Current map[asyncmqtype.State]int `json:"current"`
	Workers int                       `json:"total_workers"`
	Queues  int                       `json:"total_queues"`
}

// metricsHistory serves the charts' data: ?minutes= (1..1440, default 60), ?queue=, ?task= (the
// history of one task) and ?by=task (adds the window's per-task sums).
func (d *Dashboard) metricsHistory(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	minutes := parseWindow(r)
	q := r.URL.Query()
	queue, task := strings.TrimSpace(q.Get("queue")), strings.TrimSpace(q.Get("task"))
	if err := checkFilters("queue", queue, "task", task); err != nil {
		return err
	}
	var byTask bool
	switch by := q.Get("by"); by {
	case "":
	case "task":
		byTask = true
	default:
		return badRequest("by %q is not supported: the only grouping is by=task.", by)
	}
	points, _, total, err := d.history(ctx, queue, task, minutes)
	if err != nil {
		return err
	}
	var tasks *[]taskMetricsJSON
	if byTask {
		ts, err := d.taskStats(ctx, queue, task, minutes)
		if err != nil {
			return err
		}
		list := []taskMetricsJSON{}
		for _, t := range ts {
			list = append(list, t.json())
		}
		tasks = &list
	}
	qs, err := d.insp.Queues(ctx)
	if err != nil {
		return err
	}
	ws, err := d.insp.Workers(ctx)
	if err != nil {
		return err
	}
	resp := historyResponse{Minutes: minutes, Queue: queue, Task: task, Tasks: tasks, History: points, Totals: total,
		Current: currentCounts(qs, queue), Workers: len(ws), Queues: len(qs)}
	return writeJSON(w, http.StatusOK, resp)
}

// currentCounts sums the jobs per state of queue, or of every queue when queue is "", with every
// state present.
func currentCounts(qs []asyncmqtype.QueueInfo, queue string) map[asyncmqtype.State]int {
	counts := make(map[asyncmqtype.State]int, len(asyncmqtype.States))
	for _, s := range asyncmqtype.States {
		counts[s] = 0
	}
	for _, q := range qs {
		if queue != "" && q.Name != queue {
			continue
		}
		for s, n := range q.Counts {
			counts[s] += n
		}
	}
	return counts
}
