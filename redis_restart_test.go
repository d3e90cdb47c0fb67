package asyncmq

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	// The Redis store registers redis:// for Open.
	_ "github.com/asyncmq/asyncmq/backend/redis"
	"github.com/asyncmq/asyncmq/internal/redistest"
)

// TestRedisRestartLosesNoAcceptedJob runs producers and a worker against a private Redis with
// appendonly yes and appendfsync always, kills Redis with SIGKILL in the middle, restarts it
// from its append-only file, and checks that the worker reconnects on its own and that every job
// whose Enqueue returned nil is completed.
func TestRedisRestartLosesNoAcceptedJob(t *testing.T) {
	t.Parallel()
	if !redistest.Available() {
		t.Skip("redis-server is not installed")
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	b, err := Open(ctx, srv.URL()+"?dial_timeout=500ms")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })

	var runs sync.Map
	mux := NewServeMux()
	mux.HandleFunc("restart.task", func(ctx context.Context, job *Job) error {
		n, _ := runs.LoadOrStore(job.ID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		time.Sleep(time.Millisecond)
		return nil
	})
	w, err := NewWorker(b, mux, WorkerConfig{
		Queues:          map[string]int{"restart": 8},
		LeaseDuration:   2 * time.Second,
		StalledInterval: 200 * time.Millisecond,
		// A job running when Redis dies loses its lease; on a starved machine (CI under -race at
		// load 12) its next attempt's 2 s lease can expire too, and the default MaxStalls of 1
		// then fails it. Stalls are not losses: this test counts losses, so it allows more.
		MaxStalls:    10,
		PollInterval: 100 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop) // a failed wait below ends the worker too
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	client := NewClient(b)
	var (
		mu       sync.Mutex
		accepted []string
		refused  atomic.Int32
	)
	produce := func(ctx context.Context, p int) {
		for i := 0; ctx.Err() == nil; i++ {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			j, err := client.Enqueue(cctx, "restart.task", nil, Queue("restart"), JobID(fmt.Sprintf("p%d-%05d", p, i)))
			cancel()
			if err != nil {
				refused.Add(1)
				time.Sleep(20 * time.Millisecond)
				continue
			}
			mu.Lock()
			accepted = append(accepted, j.ID)
			mu.Unlock()
		}
	}
	pctx, stopProducers := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	for p := range 4 {
		pwg.Go(func() { produce(pctx, p) })
	}
	// Each step waits for what the next one depends on, however slow the machine: jobs accepted
	// before the kill, a refusal that shows Redis is down (go-redis retries a failed call, so a
	// short outage can pass unseen), and jobs accepted after the restart, which only a worker
	// that reconnected can complete.
	nAccepted := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				stopProducers()
				pwg.Wait()
				t.Fatalf("waited a minute for %s (%d accepted, %d refused)", what, nAccepted(), refused.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("jobs accepted before the kill", func() bool { return nAccepted() >= 20 })
	refusedBefore := refused.Load()
	srv.Kill()
	waitFor("an enqueue refused while Redis is down", func() bool { return refused.Load() > refusedBefore })
	srv.Restart()
	atRestart := nAccepted()
	waitFor("jobs accepted after the restart", func() bool { return nAccepted() >= atRestart+20 })
	stopProducers()
	pwg.Wait()

	mu.Lock()
	ids := append([]string(nil), accepted...)
	mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	left := ids
	for len(left) > 0 {
		j, err := b.GetJob(ctx, left[0])
		if err != nil {
			t.Fatalf("accepted job %s lost: %v", left[0], err)
		}
		if j.State == asyncmqtype.StateCompleted {
			left = left[1:]
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted job %s is still %s two minutes after the restart (attempts %d, stalls %d, errors %+v)", j.ID, j.State, j.Attempts, j.Stalls, j.Errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, id := range ids {
		j, err := b.GetJob(ctx, id)
		if err != nil {
			t.Fatalf("accepted job %s lost: %v", id, err)
		}
		if j.State != asyncmqtype.StateCompleted {
			t.Fatalf("accepted job %s is %s", id, j.State)
		}
	}
	t.Logf("%d jobs accepted and completed across a Redis SIGKILL and restart (%d enqueues refused while it was down)", len(ids), refused.Load())
}
