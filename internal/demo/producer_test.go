package demo

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// TestProducerKeepsTheDashboardAlive runs the producer and a worker with the demo handlers and
// waits until the store holds what a new user should see: the repeatable, completed jobs, failed
// jobs (one of them a panic with its stack) and a delayed job.
func TestProducerKeepsTheDashboardAlive(t *testing.T) {
	t.Parallel()
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	insp := asyncmq.NewInspector(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mux := asyncmq.NewServeMux()
	(&Handlers{StepDelay: time.Millisecond}).Register(mux)
	qs := map[string]int{}
	for _, q := range Queues {
		qs[q] = 4
	}
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{Queues: qs, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()
	p := &Producer{Client: asyncmq.NewClient(b), Inspector: insp, Interval: 10 * time.Millisecond, Rand: rand.New(rand.NewPCG(1, 2))}
	producerDone := make(chan error, 1)
	go func() { producerDone <- p.Run(ctx) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		counts := map[asyncmqtype.State]int{}
		qs, err := insp.Queues(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			for s, n := range q.Counts {
				counts[s] += n
			}
		}
		if counts[asyncmqtype.StateCompleted] >= 3 && counts[asyncmqtype.StateFailed] >= 2 && counts[asyncmqtype.StateDelayed] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s the demo store holds %v; want completed, failed and delayed jobs", counts)
		}
		time.Sleep(20 * time.Millisecond)
	}

	rs, err := insp.Repeatables(ctx, QueueMaintenance)
	if err != nil || len(rs) != 1 || rs[0].ID != RepeatableSpec().ID {
		t.Fatalf("repeatables = %+v, %v; want the demo's one", rs, err)
	}
	page, err := insp.Jobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: QueueImages, State: asyncmqtype.StateFailed}})
	if err != nil {
		t.Fatal(err)
	}
	sawPanic := false
	for _, j := range page.Jobs {
		if e := j.LastError(); e != nil && e.Panic && e.Stack != "" {
			sawPanic = true
		}
	}
	if !sawPanic {
		t.Fatalf("no failed image job records a panic with its stack: %+v", page.Jobs)
	}

	cancel()
	if err := <-producerDone; err != nil {
		t.Fatalf("producer: %v", err)
	}
	if err := <-workerDone; err != nil {
		t.Fatalf("worker: %v", err)
	}
}

func TestProducerNeedsClientAndInspector(t *testing.T) {
	t.Parallel()
	if err := (&Producer{}).Run(context.Background()); err == nil {
		t.Fatal("Run without Client and Inspector succeeded")
	}
}
