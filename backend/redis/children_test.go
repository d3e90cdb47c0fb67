package redis_test

import (
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// The finish script reads a job's list of children only in queues that may have one (see
// may_have_children in prelude.lua). A parent completed in a queue made by a plain enqueue, and
// one in a queue whose marks an earlier version never wrote, must still release its child.
func TestChildrenReleasedWhateverTheQueueMarks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		drop       []string // marks to delete, as if an earlier version had written them
		plainFirst bool     // the queue made by a plain enqueue
	}{
		{"made by a plain enqueue", nil, true},
		{"made by a script", nil, false},
		// An earlier version wrote neither mark.
		{"made by an earlier version", []string{"nc", "hc"}, false},
		// A process of an earlier version enqueued the child in a queue this version made.
		{"child written by an earlier version", []string{"hc"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := testURL(t)
			prefix := freshPrefix(t, url)
			s := openStore(t, withPrefix(url, prefix))
			ctx := t.Context()
			now := time.Now()
			enqueue := func(p backend.EnqueueParams) {
				t.Helper()
				if err := s.Enqueue(ctx, p); err != nil {
					t.Fatalf("enqueue: %v", err)
				}
			}
			if tt.plainFirst {
				enqueue(backend.EnqueueParams{Now: now, FreshIDs: true, Jobs: []*asyncmqtype.JobInfo{
					{ID: "first", Queue: "dq", Task: "t", RunAt: now, CreatedAt: now}}})
			}
			enqueue(backend.EnqueueParams{Now: now, Jobs: []*asyncmqtype.JobInfo{
				{ID: "parent", Queue: "dq", Task: "t"},
				{ID: "child", Queue: "dq", Task: "t", DependsOn: []string{"parent"}},
			}})
			if len(tt.drop) > 0 {
				raw := rawClient(t, url)
				if err := raw.HDel(ctx, prefix+":{dq}:meta", tt.drop...).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for done := false; !done; {
				jobs, err := s.Claim(ctx, backend.ClaimParams{Queue: "dq", WorkerID: "w", Limit: 10, LeaseDuration: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				if len(jobs) == 0 {
					t.Fatal("the parent was never claimed")
				}
				for _, j := range jobs {
					if j.ID == "child" {
						t.Fatal("the child was claimed before its parent completed")
					}
					done = done || j.ID == "parent"
					if _, err := s.Finish(ctx, backend.FinishParams{Items: []backend.Finish{{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			child, err := s.GetJob(ctx, "child")
			if err != nil {
				t.Fatal(err)
			}
			if child.State != asyncmqtype.StateWaiting {
				t.Fatalf("child is %s after its parent completed, want waiting", child.State)
			}
		})
	}
}
