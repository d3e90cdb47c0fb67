package redis_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Waiting jobs are packed records until a script first changes them (record.go). Through every
// change a job can go through, on both enqueue paths, a job must read back whole (task, payload,
// priority) wherever its fields are, and once every job is deleted neither records nor hashes
// may be left behind.
func TestPackedJobsThroughTheirLife(t *testing.T) {
	t.Parallel()
	for _, path := range enqueuePaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			url := testURL(t)
			prefix := freshPrefix(t, url)
			s := openStore(t, withPrefix(url, prefix))
			raw := rawClient(t, url)
			ctx := t.Context()
			pk := prefix + ":{pq}:pk"

			// Payloads of every MessagePack string size, and a needle each for the text search.
			want := map[string]*asyncmqtype.JobInfo{}
			var jobs []*asyncmqtype.JobInfo
			for i, size := range []int{0, 40, 300, 70_000, 10, 20, 30, 50} {
				id := fmt.Sprintf("job-%d", i)
				j := &asyncmqtype.JobInfo{ID: id, Queue: "pq", Task: fmt.Sprintf("task.%d", i), Priority: i % 3, MaxRetries: 2,
					Payload: []byte(fmt.Sprintf(`{"needle":"n%d-x","pad":%q}`, i, strings.Repeat("p", size)))}
				want[id] = j
				jobs = append(jobs, j)
			}
			if err := s.Enqueue(ctx, pathParams(path.plain, jobs...)); err != nil {
				t.Fatalf("enqueue: %v", err)
			}
			if n := raw.HLen(ctx, pk).Val(); n != int64(len(jobs)) {
				t.Fatalf("after the enqueue the queue holds %d packed records, want %d", n, len(jobs))
			}

			check := func(id string, state asyncmqtype.State) {
				t.Helper()
				got, err := s.GetJob(ctx, id)
				if err != nil {
					t.Fatalf("get job %s (%s): %v", id, state, err)
				}
				w := want[id]
				if got.State != state || got.Task != w.Task || string(got.Payload) != string(w.Payload) ||
					got.Priority != w.Priority || got.MaxRetries != w.MaxRetries || got.CreatedAt.IsZero() || got.RunAt.IsZero() {
					t.Fatalf("job %s reads as state %s, task %q, priority %d, max retries %d, payload of %d bytes, created %v, run-at %v; want %s, %q, %d, %d, %d bytes",
						id, got.State, got.Task, got.Priority, got.MaxRetries, len(got.Payload), got.CreatedAt, got.RunAt,
						state, w.Task, w.Priority, w.MaxRetries, len(w.Payload))
				}
				// The listing and the text search read the same places.
				page, err := s.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "pq", State: state,
					Text: fmt.Sprintf(`"n%s-x"`, strings.TrimPrefix(id, "job-"))}, Limit: 10})
				if err != nil {
					t.Fatalf("search job %s: %v", id, err)
				}
				if len(page.Jobs) != 1 || page.Jobs[0].ID != id || string(page.Jobs[0].Payload) != string(w.Payload) {
					t.Fatalf("searching the payload of job %s (%s) found %d jobs", id, state, len(page.Jobs))
				}
			}
			for id := range want {
				check(id, asyncmqtype.StateWaiting)
			}

			claim := func(n int, lease time.Duration) []*asyncmqtype.JobInfo {
				t.Helper()
				got, err := s.Claim(ctx, backend.ClaimParams{Queue: "pq", WorkerID: "w", Limit: n, LeaseDuration: lease})
				if err != nil || len(got) != n {
					t.Fatalf("claim %d: got %d jobs, %v", n, len(got), err)
				}
				for _, j := range got {
					w := want[j.ID]
					if j.Task != w.Task || string(j.Payload) != string(w.Payload) || j.Priority != w.Priority || j.Attempts < 1 {
						t.Fatalf("claimed job %s: task %q, priority %d, attempts %d, payload of %d bytes", j.ID, j.Task, j.Priority, j.Attempts, len(j.Payload))
					}
					check(j.ID, asyncmqtype.StateActive)
				}
				return got
			}
			finish := func(j *asyncmqtype.JobInfo, outcome asyncmqtype.Outcome) {
				t.Helper()
				f := backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: outcome}
				if outcome != asyncmqtype.OutcomeCompleted {
					f.Error = &asyncmqtype.AttemptError{Error: "boom"}
				}
				res, err := s.Finish(ctx, backend.FinishParams{Items: []backend.Finish{f}})
				if err != nil || len(res) != 1 || res[0] != nil {
					t.Fatalf("finish %s as %s: %v %v", j.ID, outcome, res, err)
				}
			}

			// Completed, failed, retried (and claimed again, then released), stalled.
			got := claim(4, time.Minute)
			finish(got[0], asyncmqtype.OutcomeCompleted)
			check(got[0].ID, asyncmqtype.StateCompleted)
			finish(got[1], asyncmqtype.OutcomeFailed)
			check(got[1].ID, asyncmqtype.StateFailed)
			finish(got[2], asyncmqtype.OutcomeRetry)
			check(got[2].ID, asyncmqtype.StateWaiting)
			if err := s.Release(ctx, backend.ReleaseParams{Leases: []backend.Lease{{JobID: got[3].ID, LeaseToken: got[3].LeaseToken}}}); err != nil {
				t.Fatal(err)
			}
			check(got[3].ID, asyncmqtype.StateWaiting)
			again := claim(1, time.Millisecond)
			time.Sleep(5 * time.Millisecond)
			if _, err := s.RecoverStalled(ctx, backend.RecoverParams{Now: time.Now().Add(time.Second), MaxStalls: 5, Limit: 10}); err != nil {
				t.Fatal(err)
			}
			check(again[0].ID, asyncmqtype.StateWaiting)

			// A waiting job still packed (a claimed one keeps its record beside its hash),
			// cancelled; another named as a parent, then completed.
			var packed []string
			for id := range want {
				if raw.HExists(ctx, pk, id).Val() && raw.Exists(ctx, prefix+":{pq}:j:"+id).Val() == 0 {
					packed = append(packed, id)
				}
			}
			if len(packed) < 3 {
				t.Fatalf("only %d jobs still packed", len(packed))
			}
			if n, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionCancel, IDs: packed[:1], Now: time.Now()}); err != nil || n != 1 {
				t.Fatalf("cancel %s: %d, %v", packed[0], n, err)
			}
			check(packed[0], asyncmqtype.StateCancelled)
			child := &asyncmqtype.JobInfo{ID: "child", Queue: "pq", Task: "child", DependsOn: []string{packed[1]}}
			if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{child}}); err != nil {
				t.Fatalf("enqueue a child of %s: %v", packed[1], err)
			}
			check(packed[1], asyncmqtype.StateWaiting)
			if c, err := s.GetJob(ctx, "child"); err != nil || c.State != asyncmqtype.StateWaitingChildren {
				t.Fatalf("child: %v, %v", c, err)
			}
			for {
				got := claim(1, time.Minute)
				finish(got[0], asyncmqtype.OutcomeCompleted)
				if got[0].ID == packed[1] {
					break
				}
			}
			if c, err := s.GetJob(ctx, "child"); err != nil || c.State != asyncmqtype.StateWaiting {
				t.Fatalf("child after its parent completed: %v, %v", c, err)
			}
			if n, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: packed[2:3], Now: time.Now()}); err != nil || n != 1 {
				t.Fatalf("remove %s: %d, %v", packed[2], n, err)
			}
			if _, err := s.GetJob(ctx, packed[2]); err == nil {
				t.Fatalf("job %s still found after its removal", packed[2])
			}

			// Everything deleted: nothing of any job is left.
			if _, err := s.Drain(ctx, "pq", true); err != nil {
				t.Fatal(err)
			}
			for _, st := range []asyncmqtype.State{asyncmqtype.StateCompleted, asyncmqtype.StateFailed, asyncmqtype.StateCancelled} {
				if _, err := s.Clean(ctx, backend.CleanParams{Queue: "pq", State: st, Limit: 1000}); err != nil {
					t.Fatal(err)
				}
			}
			left := raw.Keys(ctx, prefix+":{pq}:j:*").Val()
			if n := raw.HLen(ctx, pk).Val(); n != 0 || len(left) != 0 {
				t.Fatalf("after drain and clean: %d packed records and job hashes %v left", n, left)
			}

			// Obliterate deletes records too.
			if err := s.Enqueue(ctx, pathParams(path.plain, &asyncmqtype.JobInfo{ID: "late", Queue: "pq", Task: "t"})); err != nil {
				t.Fatal(err)
			}
			if err := s.Obliterate(ctx, "pq", true); err != nil {
				t.Fatal(err)
			}
			if n := raw.Exists(ctx, pk).Val(); n != 0 {
				t.Fatal("the packed records outlived Obliterate")
			}
		})
	}
}

// One claim may take more jobs than Lua can pass to one command at once.
func TestClaimOfManyPackedJobs(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	const n = 9000
	jobs := make([]*asyncmqtype.JobInfo, n)
	for i := range jobs {
		jobs[i] = &asyncmqtype.JobInfo{ID: fmt.Sprintf("many-%05d", i), Queue: "mq", Task: "t"}
	}
	if err := s.Enqueue(ctx, pathParams(true, jobs...)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "mq", WorkerID: "w", Limit: n, LeaseDuration: time.Minute})
	if err != nil || len(got) != n {
		t.Fatalf("claim of %d: got %d jobs, %v", n, len(got), err)
	}
}

// A damaged record (only a bug or a hand edit makes one) does not stop its queue: a claim skips
// a job whose record's head it cannot read and fails one whose body it cannot decode, and still
// takes the others; listings leave such jobs out, and removing or draining them works. So for
// jobs of the lane (priority 5), which leave it for s:waiting when their record cannot be read.
func TestMalformedRecordDoesNotStopTheQueue(t *testing.T) {
	t.Parallel()
	for _, priority := range []int{0, 5} {
		t.Run(fmt.Sprintf("priority %d", priority), func(t *testing.T) {
			t.Parallel()
			malformedRecords(t, priority)
		})
	}
}

func malformedRecords(t *testing.T, priority int) {
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	ctx := t.Context()
	bad := map[string]string{
		"a1": "\x9c\xa1t",                      // cut short after the first field
		"a2": "\x94\xa2ca\xa11\xa1t\xa1x",      // 'ca' before 't'
		"a3": "\xc0",                           // not an array
		"a4": "\x9c\xa1t\xa1x\xa2ca\xd9\x10ab", // created-at longer than what is left
		"a6": "\x9c\xa1t\xa1x\xa2ca\xa2zz",     // created-at not a number
		"a7": "\x9c\xa1t\xa1x\xa2ca\xa3nan",    // created-at a float Lua reads but ZADD refuses
		"a5": "\x9c\xa1t\xa1t\xa2ca\xa11",      // a sound head, then 8 of 12 strings missing
	}
	var jobs []*asyncmqtype.JobInfo
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "b", "c"} {
		jobs = append(jobs, &asyncmqtype.JobInfo{ID: id, Queue: "bq", Task: "t", Priority: priority})
	}
	if err := s.Enqueue(ctx, pathParams(true, jobs...)); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, url)
	for id, rec := range bad {
		if err := raw.HSet(ctx, prefix+":{bq}:pk", id, rec).Err(); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "bq", State: asyncmqtype.StateWaiting}, Limit: 10})
	if err != nil || len(page.Jobs) != 2 {
		t.Fatalf("listing the waiting jobs: %d jobs, %v; want b and c", len(page.Jobs), err)
	}
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "bq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	var ids []string
	for _, j := range got {
		ids = append(ids, j.ID)
	}
	if strings.Join(ids, ",") != "b,c" {
		t.Fatalf("claimed %v, want [b c]", ids)
	}
	if n := raw.ZCard(ctx, prefix+":{bq}:lease").Val(); n != 2 {
		t.Fatalf("%d jobs hold a lease after the claim, want 2 (b and c)", n)
	}
	if n := raw.ZCard(ctx, prefix+":{bq}:s:failed").Val(); n != 1 {
		t.Fatalf("%d jobs failed, want 1 (a5, claimed and unreadable)", n)
	}
	if _, err := s.GetJob(ctx, "a5"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("get job a5: %v, want an error saying its record is malformed", err)
	}
	if n, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: []string{"a1"}, Now: time.Now()}); err != nil || n != 1 {
		t.Fatalf("remove a1: %d, %v", n, err)
	}
	if _, err := s.Drain(ctx, "bq", false); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if n := raw.HLen(ctx, prefix+":{bq}:pk").Val(); n != 3 { // a5 (failed), b and c (active)
		t.Fatalf("%d records left after the drain, want 3", n)
	}
	if q, err := s.Queue(ctx, "bq"); err != nil || q.Counts[asyncmqtype.StateWaiting] != 0 {
		t.Fatalf("after the drain: %v waiting, %v; want none", q.Counts, err)
	}
	// The failed job, whose record gives no priority, can be retried and claimed again.
	if n, err := s.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"a5"}, Now: time.Now()}); err != nil || n != 1 {
		t.Fatalf("retry a5: %d, %v", n, err)
	}
	if q, err := s.Queue(ctx, "bq"); err != nil || q.Counts[asyncmqtype.StateWaiting] != 1 || q.Counts[asyncmqtype.StateFailed] != 0 {
		t.Fatalf("after the retry of a5: %v, %v; want it waiting", q.Counts, err)
	}
}

// Listings read jobs a hundred at a time (readChunk in jobs.go): a page, and a filtered listing
// whose candidates span several of those reads, still hold every job in order.
func TestListingsReadPastOneChunk(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	const n = 250
	jobs := make([]*asyncmqtype.JobInfo, n)
	for i := range jobs {
		jobs[i] = &asyncmqtype.JobInfo{ID: fmt.Sprintf("c-%03d", i), Queue: "cq", Task: "t", Payload: []byte(fmt.Sprintf(`{"n":"v%03d"}`, i))}
	}
	if err := s.Enqueue(ctx, pathParams(true, jobs...)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []asyncmqtype.JobFilter{
		{Queue: "cq", State: asyncmqtype.StateWaiting},
		{Queue: "cq", State: asyncmqtype.StateWaiting, Text: `"v`},
	} {
		page, err := s.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: f, Sort: asyncmqtype.SortOldest, Limit: n})
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		if page.Total != n || len(page.Jobs) != n {
			t.Fatalf("list %+v: total %d, %d jobs; want %d", f, page.Total, len(page.Jobs), n)
		}
		for i, j := range page.Jobs {
			if j.ID != jobs[i].ID || string(j.Payload) != string(jobs[i].Payload) {
				t.Fatalf("list %+v: job %d is %s %s, want %s %s", f, i, j.ID, j.Payload, jobs[i].ID, jobs[i].Payload)
			}
		}
	}
}
