package redis_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/redis"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// A plain enqueue leaves the IDs asyncmq made out of the ID index, which costs Redis a fifth of a
// bulk enqueue, and indexes any other ID; a job either way is found by ID (the conformance test
// FreshIDsFoundByIDAndNeverTakenTwice checks the rest).
func TestSealedIDsLeftOutOfTheIDIndex(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	ctx := t.Context()
	now := time.Now()
	sealed, other := asyncmq.NewID(), "order-17"
	var jobs []*asyncmqtype.JobInfo
	for _, id := range []string{sealed, other} {
		jobs = append(jobs, &asyncmqtype.JobInfo{ID: id, Queue: "q", Task: "t", RunAt: now, CreatedAt: now})
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: true}); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	index := raw.HGetAll(ctx, prefix+":jobq").Val()
	if len(index) != 1 || index[other] != "q" {
		t.Fatalf("the ID index holds %v, want only %s -> q", index, other)
	}
	for _, id := range []string{sealed, other} {
		if j, err := s.GetJob(ctx, id); err != nil || j.Queue != "q" || j.State != asyncmqtype.StateWaiting {
			t.Fatalf("get job %s: %+v, %v; want it waiting in q", id, j, err)
		}
	}
}

// Unindexed IDs are looked for in every queue, at most 256 queues to a script call: a job in a
// queue past the first call's queues is found by ID and by ApplyJobs.
func TestSealedIDsFoundPastOneCallOfQueues(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx, now := t.Context(), time.Now()
	const queues = 300
	ids := make([]string, queues)
	for i := range ids {
		ids[i] = asyncmq.NewID()
		enqueuePlain(t, s, ids[i], fmt.Sprintf("q%03d", i), now)
	}
	for _, i := range []int{0, 255, 256, queues - 1} {
		if j, err := s.GetJob(ctx, ids[i]); err != nil || j.Queue != fmt.Sprintf("q%03d", i) {
			t.Fatalf("get job %d: %+v, %v; want it in q%03d", i, j, err, i)
		}
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Now: now, Jobs: []*asyncmqtype.JobInfo{
		{ID: ids[queues-1], Queue: "q000", Task: "t", RunAt: now, CreatedAt: now}}}); !errors.Is(err, asyncmqtype.ErrJobExists) {
		t.Fatalf("enqueue the ID of the job of the last queue into the first: %v, want ErrJobExists", err)
	}
	n, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: ids, Now: now})
	if err != nil || n != queues {
		t.Fatalf("cancel %d jobs by ID: %d, %v", queues, n, err)
	}
}

// A repeatable fired with the ID of a job the index lacks is refused, in the job's queue and in
// another, as an enqueue of that ID is.
func TestFireRefusesAnUnindexedTakenID(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx, now := t.Context(), time.Now()
	for _, q := range []string{"q", "other"} {
		id := asyncmq.NewID()
		enqueuePlain(t, s, id, "q", now)
		r := asyncmqtype.Repeatable{ID: "r-" + q, Queue: q, Task: "t", Interval: time.Hour, NextRun: now}
		if err := s.UpsertRepeatable(ctx, r); err != nil {
			t.Fatal(err)
		}
		err := s.FireRepeatable(ctx, backend.FireParams{ID: r.ID, Expected: now, Next: now.Add(time.Hour), Now: now,
			Job: &asyncmqtype.JobInfo{ID: id, Queue: q, Task: "fired", RunAt: now, CreatedAt: now}})
		if !errors.Is(err, asyncmqtype.ErrJobExists) {
			t.Errorf("fire into %q with the ID of a job of q: %v, want ErrJobExists", q, err)
		}
		if j, err := s.GetJob(ctx, id); err != nil || j.Queue != "q" || j.Task != "t" {
			t.Errorf("after the fire into %q the job reads %+v, %v; want task t in q", q, j, err)
		}
	}
}

// The scheduler's runs carry IDs it made (FireParams.FreshID): they skip the look-up in every
// queue, which a run with a chosen sealed ID makes (it reads the set of queues first).
func TestFreshFireSkipsTheLookUp(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer raw.Close()
	ctx, now := t.Context(), time.Now()
	if err := s.UpsertRepeatable(ctx, asyncmqtype.Repeatable{ID: "r", Queue: "q", Task: "t", Interval: time.Hour, NextRun: now}); err != nil {
		t.Fatal(err)
	}
	for i, fresh := range []bool{true, false} {
		raw.ConfigResetStat(ctx)
		at := now.Add(time.Duration(i) * time.Hour)
		err := s.FireRepeatable(ctx, backend.FireParams{ID: "r", Expected: at, Next: at.Add(time.Hour), Now: now, FreshID: fresh,
			Job: &asyncmqtype.JobInfo{ID: asyncmq.NewID(), Queue: "q", Task: "t", RunAt: now, CreatedAt: now}})
		if err != nil {
			t.Fatalf("fire (FreshID %v): %v", fresh, err)
		}
		if n := commandCalls(t, raw, "smembers"); (n > 0) == fresh {
			t.Errorf("fire with FreshID %v: %d SMEMBERS calls; want a look-up only without FreshID", fresh, n)
		}
	}
}

// An EnqueueMany mixing IDs the client made with one a caller chose looks up only the chosen one
// in every queue (EnqueueParams.Fresh): with 300 queues, two script calls rather than two per job.
// The chosen ID is still refused when a queue holds it.
func TestMixedEnqueueLooksUpOnlyChosenIDs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer raw.Close()
	ctx, now := t.Context(), time.Now()
	var taken string
	for i := range 300 {
		taken = asyncmq.NewID()
		enqueuePlain(t, s, taken, fmt.Sprintf("q%03d", i), now)
	}
	c := asyncmq.NewClient(s)
	batch := func(chosen string) []asyncmq.Request {
		reqs := make([]asyncmq.Request, 100)
		for i := range reqs {
			reqs[i] = asyncmq.Request{Task: "t", Options: []asyncmq.EnqueueOption{asyncmq.Queue("mixed")}}
		}
		reqs[50].Options = append(reqs[50].Options, asyncmq.JobID(chosen))
		return reqs
	}
	raw.ConfigResetStat(ctx)
	if _, err := c.EnqueueMany(ctx, batch(asyncmq.NewID())); err != nil {
		t.Fatalf("enqueue a mixed batch: %v", err)
	}
	// The look-up of one ID over 300 queues (two calls) and the enqueue script, each sent twice
	// at most (NOSCRIPT, then EVAL); a look-up of every ID would take 200 calls.
	if n := commandCalls(t, raw, "evalsha", "eval"); n > 10 {
		t.Errorf("a mixed batch of 100 jobs, one ID chosen, ran %d scripts; want at most 10", n)
	}
	if _, err := c.EnqueueMany(ctx, batch(taken)); !errors.Is(err, asyncmqtype.ErrJobExists) {
		t.Fatalf("enqueue a mixed batch whose chosen ID q299 holds: %v, want ErrJobExists", err)
	}
}

// enqueuePlain stores one runnable job with an ID asyncmq made, as the client does, of priority
// 0: outside the lane (lane.go).
func enqueuePlain(t *testing.T, s *redis.Store, id, queue string, now time.Time) {
	t.Helper()
	enqueueAt(t, s, &asyncmqtype.JobInfo{ID: id, Queue: queue, Task: "t"}, now)
}

// enqueueLane is enqueuePlain for a job of the lane's priority, which goes to the lane.
func enqueueLane(t *testing.T, s *redis.Store, id, queue string, now time.Time) {
	t.Helper()
	enqueueAt(t, s, &asyncmqtype.JobInfo{ID: id, Queue: queue, Task: "t", Priority: redis.LanePriority}, now)
}

// enqueueAt stores j, made and due at now, the way the client does (FreshIDs, the plain path).
func enqueueAt(t *testing.T, s *redis.Store, j *asyncmqtype.JobInfo, now time.Time) {
	t.Helper()
	j.RunAt, j.CreatedAt = now, now
	if err := s.Enqueue(t.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: now, FreshIDs: true}); err != nil {
		t.Fatalf("enqueue job %s in queue %s: %v", j.ID, j.Queue, err)
	}
}

// commandCalls sums the calls of the commands that Redis counted since its stats were reset.
func commandCalls(t *testing.T, raw *goredis.Client, cmds ...string) int64 {
	t.Helper()
	var n int64
	for _, l := range strings.Split(raw.Info(t.Context(), "commandstats").Val(), "\r\n") {
		for _, cmd := range cmds {
			if v, ok := strings.CutPrefix(l, "cmdstat_"+cmd+":"); ok {
				k, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(v, ",")[0], "calls="), 10, 64)
				n += k
			}
		}
	}
	return n
}
