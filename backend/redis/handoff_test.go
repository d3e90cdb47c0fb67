package redis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// waitQueued waits until n requests sit in q.
func waitQueued[T any](t *testing.T, h *handoff[T], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued after 10s, want %d", len(h.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// answered waits for a caller's error, failing the test when none comes: before the fix a call
// queued just before Close waited for ever.
func answered(t *testing.T, got <-chan error) error {
	t.Helper()
	select {
	case err := <-got:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("a call queued before close got no answer within 10s")
		return nil
	}
}

// TestPipelinerCloseAnswersQueuedCalls queues a call that no loop takes (a pipeliner without
// lanes stands for lanes busy with other pipelines when Close comes) and checks that close
// answers it with ErrClosed, and that calls after close are refused at once.
func TestPipelinerCloseAnswersQueuedCalls(t *testing.T) {
	p := &pipeliner{in: newHandoff[*pending](8)}
	got := make(chan error, 1)
	go func() { got <- p.submit(t.Context(), call{}).err }()
	waitQueued(t, p.in, 1)
	p.close()
	if err := answered(t, got); !errors.Is(err, asyncmqtype.ErrClosed) {
		t.Fatalf("queued call: err = %v, want ErrClosed", err)
	}
	if err := p.submit(t.Context(), call{}).err; !errors.Is(err, asyncmqtype.ErrClosed) {
		t.Fatalf("call after close: err = %v, want ErrClosed", err)
	}
	p.close() // a second close does nothing
}

// TestCombinerCloseAnswersQueuedEnqueues is the same for the enqueue combiner: the queued
// Enqueue gets ErrClosed (its jobs were never sent), as does one made after close.
func TestCombinerCloseAnswersQueuedEnqueues(t *testing.T) {
	c := &enqueueCombiner{in: newHandoff[*enqReq](8)}
	jobs := []*asyncmqtype.JobInfo{{ID: "j1", Queue: "q", Task: "t"}}
	got := make(chan error, 1)
	go func() {
		_, err := c.submit(t.Context(), "q", time.Now(), jobs, false)
		got <- err
	}()
	waitQueued(t, c.in, 1)
	c.close()
	if err := answered(t, got); !errors.Is(err, asyncmqtype.ErrClosed) {
		t.Fatalf("queued enqueue: err = %v, want ErrClosed", err)
	}
	if _, err := c.submit(t.Context(), "q", time.Now(), jobs, false); !errors.Is(err, asyncmqtype.ErrClosed) {
		t.Fatalf("enqueue after close: err = %v, want ErrClosed", err)
	}
}

// TestHandoffSendGivesUpWithItsContext: a full queue blocks send until its context ends.
func TestHandoffSendGivesUpWithItsContext(t *testing.T) {
	h := newHandoff[int](1)
	if err := h.send(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := h.send(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send to a full queue: err = %v, want DeadlineExceeded", err)
	}
	var refused []int
	h.close(func() {}, func(r int) { refused = append(refused, r) })
	if len(refused) != 1 || refused[0] != 1 {
		t.Fatalf("close refused %v, want [1]", refused)
	}
}
