package redis_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/redis"
	goredis "github.com/redis/go-redis/v9"
)

// The lane's priority is the one the client gives a job by default: the lane is what most jobs
// take only while the two agree.
func TestLanePriorityIsTheDefault(t *testing.T) {
	if redis.LanePriority != asyncmq.DefaultPriority {
		t.Fatalf("lane priority %d, asyncmq.DefaultPriority %d", redis.LanePriority, asyncmq.DefaultPriority)
	}
}

// laneMix is a queue's worth of waiting jobs, about half of them in the lane (priority 5, due at
// creation), the others in the ready set: other priorities, run-ats before or after their
// creation, and members of either kind that tie with the other's on priority and time, so that
// only their IDs order them. Every other job is enqueued the way the client does (FreshIDs,
// the plain path), the rest through the enqueue script, so that both paths meet every kind.
func laneMix(base time.Time, queue string) (plain, scripted []*asyncmqtype.JobInfo) {
	r := rand.New(rand.NewPCG(1, 2))
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	for i := range 120 {
		id := fmt.Sprintf("j%03d-%c", r.IntN(1000), 'a'+rune(i%26))
		created := at(r.IntN(40))
		j := &asyncmqtype.JobInfo{ID: id, Queue: queue, Task: fmt.Sprintf("task-%d", i%3), CreatedAt: created, RunAt: created, Priority: 5}
		switch r.IntN(6) {
		case 0:
			j.Priority = 1 + 8*r.IntN(2) // before or after every lane job
		case 1:
			j.RunAt = at(r.IntN(40)) // a run-at of its own, maybe tying with a lane job's creation
		}
		if i%2 == 0 {
			plain = append(plain, j)
		} else {
			scripted = append(scripted, j)
		}
	}
	return plain, scripted
}

// enqueueMix stores laneMix's jobs in queue, each ID once, and returns them.
func enqueueMix(t *testing.T, s backend.Store, base time.Time, queue string) []*asyncmqtype.JobInfo {
	t.Helper()
	plain, scripted := laneMix(base, queue)
	seen := map[string]bool{}
	var all []*asyncmqtype.JobInfo
	unique := func(js []*asyncmqtype.JobInfo) []*asyncmqtype.JobInfo {
		var out []*asyncmqtype.JobInfo
		for _, j := range js {
			if !seen[j.ID] {
				seen[j.ID] = true
				out = append(out, j)
			}
		}
		all = append(all, out...)
		return out
	}
	now := base.Add(time.Second)
	if err := s.Enqueue(t.Context(), backend.EnqueueParams{Jobs: unique(plain), Now: now, FreshIDs: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(t.Context(), backend.EnqueueParams{Jobs: unique(scripted), Now: now}); err != nil {
		t.Fatal(err)
	}
	return all
}

// claimOrder is the order the seam promises: priority, then run-at, then ID.
func claimOrder(js []*asyncmqtype.JobInfo) []string {
	js = slices.Clone(js)
	slices.SortFunc(js, func(a, b *asyncmqtype.JobInfo) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.RunAt.Compare(b.RunAt), cmp.Compare(a.ID, b.ID))
	})
	return idsOf(js)
}

// listOrder is the waiting listing's order, oldest first: created-at, then ID.
func listOrder(js []*asyncmqtype.JobInfo) []string {
	js = slices.Clone(js)
	slices.SortFunc(js, func(a, b *asyncmqtype.JobInfo) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return idsOf(js)
}

func idsOf(js []*asyncmqtype.JobInfo) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// Jobs of the lane and of the ready set are claimed in one order, the seam's, whatever the
// claim's limit: the lane's are merged in by the ready member each would have had.
func TestLaneClaimsInTheReadySetsOrder(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for _, limit := range []int{1, 2, 3, 7, 50, 200} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			prefix := freshPrefix(t, url)
			s := openStore(t, withPrefix(url, prefix))
			raw := rawClient(t, url)
			all := enqueueMix(t, s, base, "lq")
			inLane := raw.ZCard(t.Context(), prefix+":{lq}:lane").Val()
			if inLane < 20 || int(inLane) > len(all)-20 {
				t.Fatalf("%d of %d jobs in the lane; the test wants both kinds", inLane, len(all))
			}
			var got []string
			for len(got) < len(all) {
				js, err := s.Claim(t.Context(), backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: limit, LeaseDuration: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				if len(js) != min(limit, len(all)-len(got)) {
					t.Fatalf("claim of %d after %d jobs took %d", limit, len(got), len(js))
				}
				got = append(got, idsOf(js)...)
			}
			if want := claimOrder(all); !slices.Equal(got, want) {
				t.Fatalf("claimed\n%v\nwant\n%v", got, want)
			}
			for _, key := range []string{"lane", "ready", "s:waiting"} {
				if n := raw.ZCard(t.Context(), prefix+":{lq}:"+key).Val(); n != 0 {
					t.Errorf("%d members left in %s", n, key)
				}
			}
		})
	}
}

// A lane job whose created-at is still ahead of the claim's clock (a producer whose clock is
// ahead) waits, and the due jobs behind it are claimed.
func TestLaneWaitsForJobsNotYetDue(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	now := time.Now()
	ahead := now.Add(time.Hour)
	enqueueLane(t, s, "ahead", "lq", ahead)
	enqueueLane(t, s, "due", "lq", now)
	js, err := s.Claim(t.Context(), backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(js); !slices.Equal(got, []string{"due"}) {
		t.Fatalf("claimed %v, want [due]", got)
	}
	js, err = s.Claim(t.Context(), backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute, Now: ahead})
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(js); !slices.Equal(got, []string{"ahead"}) {
		t.Fatalf("claimed at its creation %v, want [ahead]", got)
	}
}

// The waiting listing joins the lane and s:waiting: every page, either way round, and filtered,
// is the one a single set ordered by created-at and ID would give, and the count is all of them.
func TestLaneListedWithTheOtherWaitingJobs(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	all := enqueueMix(t, s, base, "lq")
	oldest := listOrder(all)
	newest := slices.Clone(oldest)
	slices.Reverse(newest)
	ctx := t.Context()
	for _, limit := range []int{1, 3, 16, 200} {
		for off := 0; off <= len(all)+1; off += max(1, limit/2) {
			for _, sort := range []asyncmqtype.Sort{asyncmqtype.SortOldest, asyncmqtype.SortNewest} {
				want := oldest
				if sort == asyncmqtype.SortNewest {
					want = newest
				}
				want = want[min(off, len(want)):min(off+limit, len(want))]
				page, err := s.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "lq", State: asyncmqtype.StateWaiting}, Sort: sort, Offset: off, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if page.Total != len(all) || !slices.Equal(idsOf(page.Jobs), want) {
					t.Fatalf("page offset %d limit %d %s: total %d, %v; want %d, %v", off, limit, sort, page.Total, idsOf(page.Jobs), len(all), want)
				}
			}
		}
	}
	var task1 []string
	for _, id := range oldest {
		for _, j := range all {
			if j.ID == id && j.Task == "task-1" {
				task1 = append(task1, id)
			}
		}
	}
	page, err := s.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "lq", State: asyncmqtype.StateWaiting, Task: "task-1"}, Sort: asyncmqtype.SortOldest, Offset: 2, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if want := task1[2:12]; page.Total != len(task1) || !slices.Equal(idsOf(page.Jobs), want) {
		t.Fatalf("task-1 page: total %d, %v; want %d, %v", page.Total, idsOf(page.Jobs), len(task1), want)
	}
	q, err := s.Queue(ctx, "lq")
	if err != nil {
		t.Fatal(err)
	}
	if q.Counts[asyncmqtype.StateWaiting] != len(all) {
		t.Fatalf("waiting count %d, want %d", q.Counts[asyncmqtype.StateWaiting], len(all))
	}
}

// A lane job that leaves the waiting state leaves the lane: cancelled, removed, drained, or with
// its queue obliterated; one made waiting again (a retry) goes to the ready set, and is claimed
// from there.
func TestLaneJobsLeaveTheLane(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	ctx := t.Context()
	now := time.Now()
	laneIDs := func(queue string) []string {
		return raw.ZRange(ctx, prefix+":{"+queue+"}:lane", 0, -1).Val()
	}
	for _, id := range []string{"cancel", "remove", "keep", "fail"} {
		enqueuePlain(t, s, id, "lq", now)
	}
	// enqueuePlain's jobs have priority 0; the lane takes the default priority.
	if got := laneIDs("lq"); len(got) != 0 {
		t.Fatalf("lane %v before the test's own jobs", got)
	}
	for _, id := range []string{"cancel", "remove", "keep", "fail"} {
		enqueueLane(t, s, id+"5", "lq", now)
	}
	if got := laneIDs("lq"); !slices.Equal(got, []string{"cancel5", "fail5", "keep5", "remove5"}) {
		t.Fatalf("lane %v", got)
	}
	for action, id := range map[asyncmqtype.Action]string{asyncmqtype.ActionCancel: "cancel5", asyncmqtype.ActionRemove: "remove5"} {
		if n, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: action, IDs: []string{id}, Now: now}); err != nil || n != 1 {
			t.Fatalf("%s %s: %d, %v", action, id, n, err)
		}
	}
	if got := laneIDs("lq"); !slices.Equal(got, []string{"fail5", "keep5"}) {
		t.Fatalf("lane after a cancel and a remove: %v", got)
	}
	if j, err := s.GetJob(ctx, "cancel5"); err != nil || j.State != asyncmqtype.StateCancelled {
		t.Fatalf("cancel5: %v, %v", j, err)
	}

	// Claimed and failed with a retry, a lane job waits in the ready set.
	js, err := s.Claim(ctx, backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(js); !slices.Equal(got, []string{"cancel", "fail", "keep", "remove", "fail5", "keep5"}) {
		t.Fatalf("claimed %v", got)
	}
	for _, j := range js {
		f := backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
		if j.ID == "fail5" {
			f.Outcome, f.Error = asyncmqtype.OutcomeRetry, &asyncmqtype.AttemptError{Error: "again"}
		}
		if errs, err := s.Finish(ctx, backend.FinishParams{Items: []backend.Finish{f}, Now: now}); err != nil || errs[0] != nil {
			t.Fatalf("finish %s: %v %v", j.ID, errs, err)
		}
	}
	if got := laneIDs("lq"); len(got) != 0 {
		t.Fatalf("lane after the claim: %v", got)
	}
	if n := raw.ZCard(ctx, prefix+":{lq}:ready").Val(); n != 1 {
		t.Fatalf("%d members in the ready set, want fail5's", n)
	}
	js, err = s.Claim(ctx, backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute, Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(js); !slices.Equal(got, []string{"fail5"}) || js[0].Attempts != 2 {
		t.Fatalf("claimed after the retry %v", ids(js))
	}

	// Drained and obliterated queues leave no lane behind, nor any job of it: the third job of
	// each has a unique key, and so a hash of its own.
	for _, q := range []string{"dq", "oq"} {
		for i := range 3 {
			j := &asyncmqtype.JobInfo{ID: fmt.Sprintf("%s-%d", q, i), Queue: q, Task: "t", Priority: 5, RunAt: now, CreatedAt: now}
			p := backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: now, FreshIDs: true}
			if i == 2 {
				j.UniqueKey, j.UniqueUntil = "u-"+q, now.Add(time.Hour)
				p.FreshIDs = false
			}
			if err := s.Enqueue(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if got := laneIDs(q); len(got) != 3 {
			t.Fatalf("lane of %s: %v", q, got)
		}
	}
	if n, err := s.Drain(ctx, "dq", false); err != nil || n != 3 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if err := s.Obliterate(ctx, "oq", false); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"dq", "oq"} {
		if n := raw.Exists(ctx, prefix+":{"+q+"}:lane").Val(); n != 0 {
			t.Fatalf("queue %s still has a lane", q)
		}
		for i := range 3 {
			if j, err := s.GetJob(ctx, fmt.Sprintf("%s-%d", q, i)); err == nil {
				t.Fatalf("job %s still found, %s", j.ID, j.State)
			}
		}
	}
}

// Lane entries whose jobs are gone (only a bug or a hand edit leaves one) are dropped by the
// claims that meet them, which read no more than the claim's bound each, and the jobs behind
// them are claimed.
func TestLaneDropsEntriesOfGoneJobs(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	ctx := t.Context()
	now := time.Now()
	for _, id := range []string{"real-1", "real-2"} {
		enqueueLane(t, s, id, "lq", now)
	}
	lane := prefix + ":{lq}:lane"
	for i := range 100 {
		raw.ZAdd(ctx, lane, goredis.Z{Score: float64(now.Add(-time.Hour).UnixMicro()), Member: fmt.Sprintf("gone-%03d", i)})
	}
	var got []string
	calls := 0
	for len(got) < 2 && calls < 10 {
		calls++
		js, err := s.Claim(ctx, backend.ClaimParams{Queue: "lq", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, idsOf(js)...)
		// A claim of one reads at most 1 + 32 entries.
		if left := raw.ZCard(ctx, lane).Val(); left < 102-int64(33*calls) {
			t.Fatalf("after %d claims of one, %d lane entries left: more than the bound read", calls, left)
		}
	}
	if !slices.Equal(got, []string{"real-1", "real-2"}) {
		t.Fatalf("claimed %v in %d calls, want [real-1 real-2]", got, calls)
	}
	if n := raw.ZCard(ctx, lane).Val(); n != 0 {
		t.Fatalf("%d lane entries left", n)
	}
}

// A job of the lane's priority that is due at its creation but was made before 1970 stays out
// of the lane: its ready member clamps its run-at to zero, which the lane's order would not.
func TestLaneLeavesOutJobsBefore1970(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	old := time.Unix(-1000, 0)
	for i, fresh := range []bool{true, false} {
		j := &asyncmqtype.JobInfo{ID: fmt.Sprint("old-", i), Queue: "lq", Task: "t", Priority: 5, RunAt: old, CreatedAt: old}
		if err := s.Enqueue(t.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: time.Now(), FreshIDs: fresh}); err != nil {
			t.Fatal(err)
		}
	}
	if n := raw.ZCard(t.Context(), prefix+":{lq}:lane").Val(); n != 0 {
		t.Fatalf("%d jobs made before 1970 in the lane, want none", n)
	}
	if n := raw.ZCard(t.Context(), prefix+":{lq}:ready").Val(); n != 2 {
		t.Fatalf("%d jobs made before 1970 in the ready set, want 2", n)
	}
}

// A job enqueued into the lane wakes the queue's idle workers, by either enqueue path, and so
// does resuming a paused queue whose waiting jobs are all in the lane.
func TestLaneWakes(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	u := withPrefix(url, freshPrefix(t, url))
	producer, worker := openStore(t, u), openStore(t, u)
	ch, stop := worker.Subscribe("lq")
	defer stop()
	time.Sleep(50 * time.Millisecond) // let the subscription reach Redis
	ctx := t.Context()
	woken := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(2 * time.Second):
			t.Fatalf("no wake-up after %s", what)
		}
	}
	for i, fresh := range []bool{true, false} {
		now := time.Now()
		j := &asyncmqtype.JobInfo{ID: fmt.Sprint("j", i), Queue: "lq", Task: "t", Priority: 5, RunAt: now, CreatedAt: now}
		if err := producer.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: now, FreshIDs: fresh}); err != nil {
			t.Fatal(err)
		}
		woken(fmt.Sprintf("an enqueue (FreshIDs %v)", fresh))
	}
	if err := producer.SetQueuePaused(ctx, "lq", true); err != nil {
		t.Fatal(err)
	}
	// A pause may or may not signal; what counts is the resume's.
	time.Sleep(50 * time.Millisecond)
	select {
	case <-ch:
	default:
	}
	if err := producer.SetQueuePaused(ctx, "lq", false); err != nil {
		t.Fatal(err)
	}
	woken("the resume")
}
