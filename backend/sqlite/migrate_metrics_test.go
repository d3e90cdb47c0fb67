package sqlite

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TestMigrationSumsQueueMetricsFromTasks builds a file the way schema version 7 left it: a
// minute counted only per queue (written before per-task rows), a minute counted per queue and
// per task, and the minute in which version 7 was applied, counted per queue beyond its task
// rows. After Open, per-queue and per-task reads must return what version 7 returned, and new
// counts must add to the migrated ones.
func TestMigrationSumsQueueMetricsFromTasks(t *testing.T) {
	t.Parallel()
	m0, m1, m2 := t0.UnixNano(), t0.Add(time.Minute).UnixNano(), t0.Add(2*time.Minute).UnixNano()
	path := fileAtVersion(t, 7,
		fmt.Sprintf(`INSERT INTO asyncmq_metrics (queue, minute, completed, failed, started, wait_sum, duration_sum, d_5ms, d_inf) VALUES
			('q', %[1]d, 5, 1, 6, 60, 50, 0, 0),
			('q', %[2]d, 4, 0, 4, 40, 40, 3, 1),
			('q', %[3]d, 3, 2, 5, 50, 30, 2, 1),
			('r', %[3]d, 1, 0, 1, 10, 10, 1, 0)`, m0, m1, m2),
		fmt.Sprintf(`INSERT INTO asyncmq_task_metrics (queue, task, minute, completed, failed, started, wait_sum, duration_sum, d_5ms, d_inf) VALUES
			('q', 'a', %[1]d, 1, 0, 1, 10, 10, 1, 0),
			('q', 'a', %[2]d, 2, 1, 3, 30, 20, 1, 1),
			('q', 'b', %[2]d, 1, 1, 2, 20, 10, 1, 0),
			('r', 'a', %[2]d, 1, 0, 1, 10, 10, 1, 0)`, m1, m2),
	)

	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bucket := func(queue, task string, minute int64, completed, failed, started, wait, dur, d5, dinf int64) asyncmqtype.MetricBucket {
		counts := make([]int64, len(asyncmqtype.DurationBuckets)+1)
		counts[0], counts[len(counts)-1] = d5, dinf
		return asyncmqtype.MetricBucket{Queue: queue, Task: task, Minute: time.Unix(0, minute).UTC(), Completed: completed,
			Failed: failed, Started: started, WaitSum: time.Duration(wait), DurationSum: time.Duration(dur), DurationCounts: counts}
	}
	perQueue := []asyncmqtype.MetricBucket{
		bucket("q", "", m0, 5, 1, 6, 60, 50, 0, 0),
		bucket("q", "", m1, 4, 0, 4, 40, 40, 3, 1),
		bucket("q", "", m2, 3, 2, 5, 50, 30, 2, 1),
		bucket("r", "", m2, 1, 0, 1, 10, 10, 1, 0),
	}
	perTask := []asyncmqtype.MetricBucket{
		bucket("q", "a", m1, 1, 0, 1, 10, 10, 1, 0),
		bucket("q", "a", m2, 2, 1, 3, 30, 20, 1, 1),
		bucket("q", "b", m2, 1, 1, 2, 20, 10, 1, 0),
		bucket("r", "a", m2, 1, 0, 1, 10, 10, 1, 0),
	}
	requireMetrics(t, b, asyncmqtype.MetricsParams{}, perQueue)
	requireMetrics(t, b, asyncmqtype.MetricsParams{Queue: "q", Since: t0.Add(time.Minute)}, perQueue[1:3])
	requireMetrics(t, b, asyncmqtype.MetricsParams{ByTask: true}, perTask)
	// The per-queue table stays, empty, for processes of the older version.
	var old int
	if err := b.queryRow(t.Context(), "SELECT count(*) FROM asyncmq_metrics").Scan(&old); err != nil || old != 0 {
		t.Errorf("asyncmq_metrics after migration: %d rows, %v; want 0 rows", old, err)
	}

	// A job of task a started and completed in minute 2 adds to both reads.
	s := &bundle{t: t, ctx: t.Context(), b: b, path: path}
	at := t0.Add(2 * time.Minute)
	s.enqueueN("q", "j", 1, at, func(j *asyncmqtype.JobInfo) { j.Task, j.RunAt = "a", at })
	s.finishAll(at, s.claim(at, 1, "q"), asyncmqtype.OutcomeCompleted)
	perQueue[2] = bucket("q", "", m2, 4, 2, 6, 50, 30, 3, 1)
	perTask[1] = bucket("q", "a", m2, 3, 1, 4, 30, 20, 2, 1)
	requireMetrics(t, b, asyncmqtype.MetricsParams{}, perQueue)
	requireMetrics(t, b, asyncmqtype.MetricsParams{ByTask: true}, perTask)
}

// requireMetrics checks the answer of one Metrics read.
func requireMetrics(t *testing.T, b *Backend, p asyncmqtype.MetricsParams, want []asyncmqtype.MetricBucket) {
	t.Helper()
	got, err := b.Metrics(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Metrics(%+v):\n got %+v\nwant %+v", p, got, want)
	}
}
