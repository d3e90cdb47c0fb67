package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestMetricsFoldKeepsTasks lets the maintenance pass fold a finished minute's appended metric
// rows: one row per queue and one per task remain, and both reads answer as before the fold.
func TestMetricsFoldKeepsTasks(t *testing.T) {
	t.Parallel()
	u := pooledSchema(t)
	b := open(t, u)
	ctx := context.Background()
	past := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	jobs := []*asyncmqtype.JobInfo{
		{ID: "a1", Queue: "q", Task: "a", RunAt: past}, {ID: "a2", Queue: "q", Task: "a", RunAt: past},
		{ID: "b1", Queue: "q", Task: "b", RunAt: past},
	}
	if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: past}); err != nil {
		t.Fatal(err)
	}
	claimed, err := b.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: "w", Limit: 3, LeaseDuration: time.Hour, Now: past.Add(time.Second)})
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	for i, j := range claimed { // one transaction each: three more rows per table
		f := backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Duration(i+1) * time.Second}
		if _, err := b.Finish(ctx, backend.FinishParams{Now: past.Add(10 * time.Second), Items: []backend.Finish{f}}); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (perQueue, byTask []asyncmqtype.MetricBucket) {
		t.Helper()
		var err error
		if perQueue, err = b.Metrics(ctx, asyncmqtype.MetricsParams{Queue: "q"}); err != nil {
			t.Fatal(err)
		}
		if byTask, err = b.Metrics(ctx, asyncmqtype.MetricsParams{Queue: "q", ByTask: true}); err != nil {
			t.Fatal(err)
		}
		return perQueue, byTask
	}
	q0, t0 := read()
	if len(q0) != 1 || len(t0) != 2 || q0[0].Completed != 3 || t0[0].Task != "a" || t0[0].Completed != 2 || t0[1].Completed != 1 {
		t.Fatalf("before the fold: per queue %+v, by task %+v", q0, t0)
	}

	conn := schemaConn(t, u)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var queueRows, taskRows int
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM asyncmq_metrics), (SELECT count(*) FROM asyncmq_task_metrics)`).Scan(&queueRows, &taskRows); err != nil {
			t.Fatal(err)
		}
		if queueRows == 1 && taskRows == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %d queue rows and %d task rows, want the minute folded to 1 and 2", queueRows, taskRows)
		}
		time.Sleep(200 * time.Millisecond)
	}
	q1, t1 := read()
	if !reflect.DeepEqual(q0, q1) || !reflect.DeepEqual(t0, t1) {
		t.Errorf("the fold changed the answers:\nper queue %+v\n       to %+v\nby task %+v\n     to %+v", q0, q1, t0, t1)
	}
}
