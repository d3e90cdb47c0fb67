package redis_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func ids(js []*asyncmqtype.JobInfo) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = fmt.Sprintf("%s(attempt %d)", j.ID, j.Attempts)
	}
	return out
}

// A claim skips jobs at the head of the ready set whose run-at is still ahead of the server's
// clock (enqueued by a process whose clock is ahead) and takes the due ones behind them.
func TestClaimLooksPastJobsNotYetDue(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	ahead := time.Now().Add(time.Hour)
	var early []*asyncmqtype.JobInfo
	for i := range 3 {
		early = append(early, &asyncmqtype.JobInfo{ID: fmt.Sprintf("ahead-%d", i), Queue: "lq", Task: "t", Priority: -1,
			RunAt: ahead, CreatedAt: ahead})
	}
	// Stored as due by the call's clock, an hour ahead: first in the ready set by priority.
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: early, Now: ahead}); err != nil {
		t.Fatal(err)
	}
	var due []*asyncmqtype.JobInfo
	for i := range 5 {
		due = append(due, &asyncmqtype.JobInfo{ID: fmt.Sprintf("due-%d", i), Queue: "lq", Task: "t"})
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: due}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limit int
		want  []string
	}{{2, []string{"due-0", "due-1"}}, {10, []string{"due-2", "due-3", "due-4"}}, {10, nil}} {
		got, err := s.Claim(ctx, backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: c.limit, LeaseDuration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("claim of %d: got %v, want %v", c.limit, ids(got), c.want)
		}
		for i, j := range got {
			if j.ID != c.want[i] {
				t.Fatalf("claim of %d: got %v, want %v", c.limit, ids(got), c.want)
			}
		}
	}
	for _, j := range early {
		if got, err := s.GetJob(ctx, j.ID); err != nil || got.State != asyncmqtype.StateWaiting {
			t.Errorf("job %s: %v, %v; want it waiting", j.ID, got, err)
		}
	}
}

// One claim and one finish of jobs of several tasks, interleaved: each task's counters and the
// queue's add up to what its jobs did (the scripts sum them per run of one task).
func TestCountersOfOneCallOfSeveralTasks(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	now := time.Now().Truncate(time.Minute).Add(10 * time.Second)
	tasks := []string{"a", "a", "b", "a", "b", "b", "a"}
	durs := []time.Duration{time.Millisecond, 3 * time.Second, time.Millisecond, time.Millisecond, time.Hour, 20 * time.Millisecond, 0}
	var jobs []*asyncmqtype.JobInfo
	for i, task := range tasks {
		jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("m-%d", i), Queue: "mq", Task: task,
			RunAt: now.Add(-2 * time.Second), CreatedAt: now.Add(-2 * time.Second)})
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "mq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute, Now: now})
	if err != nil || len(got) != len(tasks) {
		t.Fatalf("claimed %d jobs (%v), want %d", len(got), err, len(tasks))
	}
	items := make([]backend.Finish, len(got))
	for i, j := range got {
		k := int(j.ID[len("m-"):][0] - '0')
		items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: durs[k]}
	}
	if _, err := s.Finish(ctx, backend.FinishParams{Items: items, Now: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	want := map[string]*asyncmqtype.MetricBucket{}
	add := func(key string, i int) {
		b := want[key]
		if b == nil {
			b = &asyncmqtype.MetricBucket{DurationCounts: make([]int64, len(asyncmqtype.DurationBuckets)+1)}
			want[key] = b
		}
		b.Started++
		b.Completed++
		b.WaitSum += 2 * time.Second
		b.DurationSum += durs[i]
		b.DurationCounts[asyncmqtype.DurationBucket(durs[i])]++
	}
	for i, task := range tasks {
		add("", i)
		add(task, i)
	}
	check := func(b asyncmqtype.MetricBucket) {
		t.Helper()
		w := want[b.Task]
		if w == nil || b.Started != w.Started || b.Completed != w.Completed || b.WaitSum != w.WaitSum ||
			b.DurationSum != w.DurationSum || fmt.Sprint(b.DurationCounts) != fmt.Sprint(w.DurationCounts) {
			t.Errorf("task %q: got started %d completed %d wait %s duration %s counts %v; want %+v",
				b.Task, b.Started, b.Completed, b.WaitSum, b.DurationSum, b.DurationCounts, w)
		}
	}
	queue, err := s.Metrics(ctx, asyncmqtype.MetricsParams{Queue: "mq"})
	if err != nil || len(queue) != 1 {
		t.Fatalf("queue buckets %v, %v; want one", queue, err)
	}
	check(queue[0])
	byTask, err := s.Metrics(ctx, asyncmqtype.MetricsParams{Queue: "mq", ByTask: true})
	if err != nil || len(byTask) != 2 {
		t.Fatalf("task buckets %v, %v; want two", byTask, err)
	}
	for _, b := range byTask {
		check(b)
	}
}
