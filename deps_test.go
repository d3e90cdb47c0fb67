package asyncmq

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestOnParentFailureRefusesUnknownPolicy(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	p := tb.enqueue(t, "parent", nil)
	_, err := tb.client.Enqueue(context.Background(), "child", nil, DependsOn(p.ID), OnParentFailure("ignore"))
	if !errors.Is(err, asyncmqtype.ErrInvalid) || !strings.Contains(err.Error(), `"ignore"`) {
		t.Fatalf("Enqueue with OnParentFailure(\"ignore\") = %v, want ErrInvalid naming the policy", err)
	}
	for _, pol := range asyncmqtype.ParentFailures {
		c := tb.enqueue(t, "child", nil, DependsOn(p.ID), OnParentFailure(pol))
		if got := tb.job(t, c.ID).OnParentFailure; got != pol {
			t.Errorf("stored policy %q, want %q", got, pol)
		}
	}
}

func TestDependentJobVisibleAsWaitingChildren(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	p := tb.enqueue(t, "parent", nil)
	c := tb.enqueue(t, "child", nil, DependsOn(p.ID))
	if c.State != asyncmqtype.StateWaitingChildren {
		t.Errorf("Enqueue returned state %s, want waiting-children", c.State)
	}
	insp := NewInspector(tb.b)
	q, err := insp.Queue(ctx, DefaultQueue)
	if err != nil {
		t.Fatal(err)
	}
	if q.Counts[asyncmqtype.StateWaiting] != 1 || q.Counts[asyncmqtype.StateWaitingChildren] != 1 {
		t.Errorf("counts %v, want 1 waiting and 1 waiting-children", q.Counts)
	}
	page, err := insp.Jobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: DefaultQueue, State: asyncmqtype.StateWaitingChildren}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 1 || page.Jobs[0].ID != c.ID {
		t.Errorf("waiting-children listing %v, want the child", page.Jobs)
	}
	parents, err := insp.Parents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(parents) != 1 || parents[0] != (asyncmqtype.ParentInfo{ID: p.ID, State: asyncmqtype.StateWaiting}) {
		t.Errorf("Parents = %+v, want the waiting parent", parents)
	}
	if err := insp.CancelJob(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if parents, err = insp.Parents(ctx, c.ID); err != nil || len(parents) != 1 || parents[0].State != asyncmqtype.StateCancelled {
		t.Errorf("Parents after the parent was cancelled = %+v, %v; want it, cancelled", parents, err)
	}
	if got := tb.job(t, c.ID).State; got != asyncmqtype.StateFailed {
		t.Errorf("child of the cancelled parent is %s, want failed (the default policy)", got)
	}
}

func TestParentFailurePolicies(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var succeed atomic.Bool
	tb.mux.HandleFunc("parent", func(context.Context, *Job) error {
		if succeed.Load() {
			return nil
		}
		return errors.New("no input today")
	})
	tb.mux.HandleFunc("child", func(context.Context, *Job) error { return nil })
	p := tb.enqueue(t, "parent", nil, MaxRetries(0))
	def := tb.enqueue(t, "child", nil, DependsOn(p.ID))
	cancel := tb.enqueue(t, "child", nil, DependsOn(p.ID), OnParentFailure(asyncmqtype.ParentFailureCancel))
	wait := tb.enqueue(t, "child", nil, DependsOn(p.ID), OnParentFailure(asyncmqtype.ParentFailureWait))
	grand := tb.enqueue(t, "child", nil, DependsOn(def.ID))
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 2}))

	tb.waitState(t, p.ID, asyncmqtype.StateFailed)
	if j := tb.waitState(t, def.ID, asyncmqtype.StateFailed); j.LastError() == nil || !strings.Contains(j.LastError().Error, p.ID) {
		t.Errorf("default child's error %+v does not name the parent", j.LastError())
	}
	tb.waitState(t, cancel.ID, asyncmqtype.StateCancelled)
	tb.waitState(t, grand.ID, asyncmqtype.StateFailed)
	if got := tb.job(t, wait.ID).State; got != asyncmqtype.StateWaitingChildren {
		t.Fatalf("wait child is %s, want waiting-children", got)
	}

	// Once the parent succeeds on a retry, the child that waited runs.
	succeed.Store(true)
	if err := NewInspector(tb.b).RetryJob(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	tb.waitState(t, wait.ID, asyncmqtype.StateCompleted)
}
