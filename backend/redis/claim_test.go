package redis_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
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

// Index entries left behind in the ready set (a second member of one job, a member whose job is
// gone) are dropped by the claim that meets them: the job is claimed once, also when both its
// members are in one claim, and the claim takes the due jobs behind them, up to its limit, even
// a limit of one.
func TestClaimDropsLeftoverMembers(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	ctx := t.Context()
	past := time.Now().Add(-time.Minute)
	var jobs []*asyncmqtype.JobInfo
	for _, id := range []string{"dup", "real-1", "real-2"} {
		jobs = append(jobs, &asyncmqtype.JobInfo{ID: id, Queue: "dq", Task: "t", RunAt: past, CreatedAt: past})
		past = past.Add(time.Millisecond)
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ready := prefix + ":{dq}:ready"
	// Ahead of every job: two members of "dup", and three of jobs that are gone.
	early := fmt.Sprintf("%011d%017d", int64(2147483648), time.Now().Add(-time.Hour).UnixMicro())
	for _, id := range []string{"gone-1", "dup", "gone-2", "gone-3"} {
		if err := raw.ZAdd(ctx, ready, goredis.Z{Member: early + id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 4 {
		js, err := s.Claim(ctx, backend.ClaimParams{Queue: "dq", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) != 1 && len(got) < 3 {
			t.Fatalf("claim of 1 after %v got %v", got, ids(js))
		}
		for _, j := range js {
			got = append(got, j.ID)
		}
	}
	if fmt.Sprint(got) != "[dup real-1 real-2]" {
		t.Fatalf("claimed %v, want [dup real-1 real-2]", got)
	}
	if n, err := raw.ZCard(ctx, ready).Result(); err != nil || n != 0 {
		t.Fatalf("%d members left in the ready set (%v), want 0", n, err)
	}

	// Both members of a packed job in one claim: it is claimed once.
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{
		{ID: "twice", Queue: "dq", Task: "t"}, {ID: "after", Queue: "dq", Task: "t"}}}); err != nil {
		t.Fatal(err)
	}
	if err := raw.ZAdd(ctx, ready, goredis.Z{Member: early + "twice"}).Err(); err != nil {
		t.Fatal(err)
	}
	js, err := s.Claim(ctx, backend.ClaimParams{Queue: "dq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != 2 || js[0].ID != "twice" || js[1].ID != "after" {
		t.Fatalf("claimed %v, want twice and after, once each", ids(js))
	}
}

// One Finish call of outcomes of every shape, which the script reads in two layouts (5 arguments
// for a job completed without a result, 10 for the others): each job ends as its outcome says,
// and a cancel request made while a job ran is gone once it completes.
func TestFinishOfMixedOutcomes(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	var jobs []*asyncmqtype.JobInfo
	for i := range 6 {
		jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("x-%d", i), Queue: "xq", Task: "t", MaxRetries: 3})
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "xq", WorkerID: "w", Limit: 6, LeaseDuration: time.Minute})
	if err != nil || len(got) != 6 {
		t.Fatalf("claimed %d jobs (%v), want 6", len(got), err)
	}
	// A cancel request for x-5 while it runs.
	if _, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: []string{"x-5"}, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if j, err := s.GetJob(ctx, "x-5"); err != nil || !j.CancelRequested {
		t.Fatalf("x-5 after the cancel request: %+v, %v", j, err)
	}
	fail := &asyncmqtype.AttemptError{At: time.Now(), Error: "boom"}
	out := []asyncmqtype.Outcome{asyncmqtype.OutcomeCompleted, asyncmqtype.OutcomeCompleted, asyncmqtype.OutcomeFailed,
		asyncmqtype.OutcomeRetry, asyncmqtype.OutcomeCancelled, asyncmqtype.OutcomeCompleted}
	items := make([]backend.Finish, 6)
	for i, j := range got {
		items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: out[i], Duration: time.Millisecond}
		if out[i] != asyncmqtype.OutcomeCompleted {
			items[i].Error = fail
		}
	}
	items[1].Result = []byte(`{"r":1}`)
	items[3].RetryDelay = time.Hour
	// The same outcome twice in one call, and one under a wrong token: both lost.
	items = append(items, items[0], backend.Finish{JobID: "x-1", LeaseToken: got[1].LeaseToken + "x", Outcome: asyncmqtype.OutcomeCompleted})
	errs, err := s.Finish(ctx, backend.FinishParams{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if lost := errors.Is(e, asyncmqtype.ErrLeaseLost); (i >= 6) != lost {
			t.Errorf("outcome %d: error %v", i, e)
		}
	}
	want := []asyncmqtype.State{asyncmqtype.StateCompleted, asyncmqtype.StateCompleted, asyncmqtype.StateFailed,
		asyncmqtype.StateDelayed, asyncmqtype.StateCancelled, asyncmqtype.StateCompleted}
	for i, w := range want {
		j, err := s.GetJob(ctx, got[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != w || j.CancelRequested || j.LeaseToken != "" {
			t.Errorf("job %s: state %s, cancel requested %v, token %q; want %s, no request, no token", j.ID, j.State, j.CancelRequested, j.LeaseToken, w)
		}
		if hasErr := len(j.Errors) > 0; hasErr != (out[i] != asyncmqtype.OutcomeCompleted) {
			t.Errorf("job %s: errors %v", j.ID, j.Errors)
		}
	}
	if j, _ := s.GetJob(ctx, got[1].ID); string(j.Result) != `{"r":1}` {
		t.Errorf("job %s: result %s", got[1].ID, j.Result)
	}
	if j, _ := s.GetJob(ctx, got[0].ID); len(j.Result) != 0 {
		t.Errorf("job %s: result %s, want none", got[0].ID, j.Result)
	}
}

// A job whose hash lost its created-at (only a hand edit does that) still finishes, and so do the
// other jobs of the call: it leaves the index of its state instead of failing the whole call.
func TestFinishOfAJobWithoutCreatedAt(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	ctx := t.Context()
	enqueueIDs(t, s, "a", "b")
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "ev", WorkerID: "w", Limit: 2, LeaseDuration: time.Minute})
	if err != nil || len(got) != 2 {
		t.Fatalf("claimed %d jobs (%v), want 2", len(got), err)
	}
	raw := rawClient(t, url)
	if err := raw.HDel(ctx, prefix+":{ev}:j:a", "ca").Err(); err != nil {
		t.Fatal(err)
	}
	var items []backend.Finish
	for _, j := range got {
		items = append(items, backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Millisecond})
	}
	errs, err := s.Finish(ctx, backend.FinishParams{Items: items})
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	for i, e := range errs {
		if e != nil {
			t.Errorf("outcome of %s: %v", got[i].ID, e)
		}
	}
	if err := raw.ZScore(ctx, prefix+":{ev}:s:completed", "a").Err(); err == nil {
		t.Errorf("job a, without a created-at, is in the completed index")
	}
	if err := raw.ZScore(ctx, prefix+":{ev}:s:completed", "b").Err(); err != nil {
		t.Errorf("job b is not in the completed index: %v", err)
	}
	if st := raw.HGet(ctx, prefix+":{ev}:j:b", "st").Val(); st != "completed" {
		t.Errorf("job b is %q, want completed", st)
	}
}
