package asyncmq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// cleanCounter stands in for a store holding `finished` completed jobs: Clean deletes up to the
// limit it is given and records each call.
type cleanCounter struct {
	Store
	finished int
	calls    []backend.CleanParams
	cancel   func() // called after the second Clean, when set
}

func (c *cleanCounter) Clean(_ context.Context, p backend.CleanParams) (int, error) {
	c.calls = append(c.calls, p)
	n := c.finished
	if p.Limit > 0 {
		n = min(n, p.Limit)
	}
	c.finished -= n
	if len(c.calls) == 2 && c.cancel != nil {
		c.cancel()
	}
	return n, nil
}

func TestCleanDeletesInBoundedBatchesWithOneCutoff(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		finished  int
		limit     int
		wantTotal int
		wantCalls []int
	}{
		{"everything", 2*CleanBatch + 5, 0, 2*CleanBatch + 5, []int{CleanBatch, CleanBatch, CleanBatch}},
		{"exact multiple", CleanBatch, 0, CleanBatch, []int{CleanBatch, CleanBatch}},
		{"limited", 3 * CleanBatch, CleanBatch + 7, CleanBatch + 7, []int{CleanBatch, 7}},
		{"small limit", 50, 10, 10, []int{10}},
		{"nothing", 0, 0, 0, []int{CleanBatch}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &cleanCounter{Store: tb.b, finished: tt.finished}
			insp := NewInspector(c)
			insp.now = func() time.Time { return now }
			var progress []int
			n, err := insp.CleanInBatches(context.Background(), "q", asyncmqtype.StateCompleted, time.Hour, tt.limit, func(d int) { progress = append(progress, d) })
			if err != nil || n != tt.wantTotal {
				t.Fatalf("CleanInBatches = %d, %v; want %d, nil", n, err, tt.wantTotal)
			}
			if len(c.calls) != len(tt.wantCalls) {
				t.Fatalf("%d store calls, want %d: %+v", len(c.calls), len(tt.wantCalls), c.calls)
			}
			for i, p := range c.calls {
				if p.Limit != tt.wantCalls[i] || !p.OlderThan.Equal(now.Add(-time.Hour)) || p.Queue != "q" || p.State != asyncmqtype.StateCompleted {
					t.Errorf("call %d = %+v, want limit %d and cutoff %s", i, p, tt.wantCalls[i], now.Add(-time.Hour))
				}
			}
			if len(progress) != len(c.calls) || progress[len(progress)-1] != tt.wantTotal {
				t.Errorf("progress = %v, want one report per call ending at %d", progress, tt.wantTotal)
			}
		})
	}
}

func TestCleanStopsBetweenBatchesWhenCancelled(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &cleanCounter{Store: tb.b, finished: 5 * CleanBatch, cancel: cancel}
	n, err := NewInspector(c).Clean(ctx, "q", asyncmqtype.StateCompleted, 0, 0)
	if !errors.Is(err, context.Canceled) || n != 2*CleanBatch || len(c.calls) != 2 {
		t.Errorf("Clean = %d, %v after %d calls; want %d deleted, context.Canceled, 2 calls", n, err, len(c.calls), 2*CleanBatch)
	}
}

func TestCleanRefusesNegativeLimit(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	if _, err := NewInspector(tb.b).Clean(context.Background(), "q", asyncmqtype.StateCompleted, 0, -1); !errors.Is(err, asyncmqtype.ErrInvalid) {
		t.Errorf("Clean with limit -1 = %v, want ErrInvalid", err)
	}
}
