package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestBufferedMetricsReachTheFile checks that metrics of transitions made in quick succession,
// which wait in memory, are in the file for another Backend once the first one closed, and are
// seen at once by the Backend that made them.
func TestBufferedMetricsReachTheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := FreshDB(t)
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const n = 5
	for i := range n {
		j := newJob(fmt.Sprintf("job-%d", i), "q")
		if err := a.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if got, err := claimFinish(ctx, a, "q", "w", 1); err != nil || got != 1 {
			t.Fatalf("claim and finish one job: %d jobs, %v", got, err)
		}
	}
	completed := func(b *Backend) (started, done int64) {
		t.Helper()
		got, err := b.Metrics(ctx, asyncmqtype.MetricsParams{Queue: "q"})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			started += m.Started
			done += m.Completed
		}
		return started, done
	}
	if s, c := completed(a); s != n || c != n {
		t.Errorf("own metrics: %d started, %d completed, want %d each", s, c, n)
	}
	for range n {
		j := newJob(fmt.Sprintf("late-%d", time.Now().UnixNano()), "q")
		if err := a.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}}); err != nil {
			t.Fatal(err)
		}
		if got, err := claimFinish(ctx, a, "q", "w", 1); err != nil || got != 1 {
			t.Fatalf("claim and finish one job: %d jobs, %v", got, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if s, c := completed(other); s != 2*n || c != 2*n {
		t.Errorf("metrics read by another Backend after Close: %d started, %d completed, want %d each", s, c, 2*n)
	}
}
