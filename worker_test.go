package asyncmq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func TestWorkerCompletesJobWithResultAndProgress(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	progressed := make(chan struct{})
	proceed := make(chan struct{})
	tb.mux.HandleFunc("resize", func(ctx context.Context, job *Job) error {
		if job.Attempt != 1 || job.Queue != "images" || string(job.Payload) != `{"w":64}` {
			return fmt.Errorf("unexpected job view %+v", job)
		}
		if err := job.ReportProgress(ctx, map[string]int{"percent": 50}); err != nil {
			return err
		}
		close(progressed)
		<-proceed
		return job.SetResult(map[string]string{"url": "s3://x"})
	})
	j := tb.enqueue(t, "resize", map[string]int{"w": 64}, Queue("images"))
	tb.startWorker(t, tb.fastConfig(map[string]int{"images": 2}))

	<-progressed
	if got := tb.job(t, j.ID); got.State != asyncmqtype.StateActive || string(got.Progress) != `{"percent":50}` {
		t.Errorf("while running: state %s progress %s, want active with progress", got.State, got.Progress)
	}
	close(proceed)
	got := tb.waitState(t, j.ID, asyncmqtype.StateCompleted)
	if string(got.Result) != `{"url":"s3://x"}` || got.Attempts != 1 || got.FinishedAt.IsZero() || len(got.Errors) != 0 {
		t.Errorf("completed job: result %s attempts %d finished %v errors %v", got.Result, got.Attempts, got.FinishedAt, got.Errors)
	}
	evs, _ := tb.events.snapshot()
	if n := count(evs, func(e WorkerEvent) bool {
		return e.Kind == WorkerJobFinished && e.JobID == j.ID && e.Outcome == asyncmqtype.OutcomeCompleted && e.Err == nil
	}); n != 1 {
		t.Errorf("saw %d completed events for the job, want 1", n)
	}
}

func TestWorkerRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		failures    int // attempts that fail before success
		maxRetries  int
		wantState   asyncmqtype.State
		wantAttempt int
	}{
		{name: "succeeds on third attempt", failures: 2, maxRetries: 3, wantState: asyncmqtype.StateCompleted, wantAttempt: 3},
		{name: "retries exhausted", failures: 10, maxRetries: 2, wantState: asyncmqtype.StateFailed, wantAttempt: 3},
		{name: "no retries", failures: 1, maxRetries: 0, wantState: asyncmqtype.StateFailed, wantAttempt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			const backoff = 30 * time.Millisecond
			var mu sync.Mutex
			var starts []time.Time
			tb.mux.HandleFunc("flaky", func(ctx context.Context, job *Job) error {
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				if job.Attempt <= tt.failures {
					return fmt.Errorf("attempt %d: upstream 503", job.Attempt)
				}
				return nil
			})
			j := tb.enqueue(t, "flaky", nil, MaxRetries(tt.maxRetries), FixedBackoff(backoff))
			tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))

			got := tb.waitState(t, j.ID, tt.wantState)
			if got.Attempts != tt.wantAttempt {
				t.Errorf("attempts = %d, want %d", got.Attempts, tt.wantAttempt)
			}
			wantErrors := min(tt.failures, tt.wantAttempt)
			if len(got.Errors) != wantErrors {
				t.Fatalf("recorded %d errors, want %d: %+v", len(got.Errors), wantErrors, got.Errors)
			}
			for i, e := range got.Errors {
				if e.Attempt != i+1 || e.Error != fmt.Sprintf("attempt %d: upstream 503", i+1) || e.Panic {
					t.Errorf("error %d = %+v", i, e)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i := 1; i < len(starts); i++ {
				if gap := starts[i].Sub(starts[i-1]); gap < backoff {
					t.Errorf("attempt %d started %s after the previous one, before the %s backoff", i+1, gap, backoff)
				}
			}
		})
	}
}

func TestWorkerFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	type payload struct {
		N int `json:"n"`
	}
	tests := []struct {
		name      string
		task      string
		payload   any
		register  func(mux *ServeMux)
		wantError string
		wantPanic bool
		wantStack string
	}{
		{
			name: "SkipRetry",
			task: "charge",
			register: func(mux *ServeMux) {
				mux.HandleFunc("charge", func(context.Context, *Job) error {
					return fmt.Errorf("card declined: %w", SkipRetry)
				})
			},
			wantError: "card declined: skip retry",
		},
		{
			name:      "unknown task",
			task:      "nobody.handles.this",
			register:  func(*ServeMux) {},
			wantError: `no handler registered for task "nobody.handles.this"`,
		},
		{
			name:    "typed payload that does not decode",
			task:    "typed",
			payload: map[string]string{"n": "not a number"},
			register: func(mux *ServeMux) {
				HandleTyped(mux, "typed", func(context.Context, *Job, payload) error { return nil })
			},
			wantError: `decode payload of task "typed" into asyncmq.payload`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			tt.register(tb.mux)
			j := tb.enqueue(t, tt.task, tt.payload, MaxRetries(5))
			tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
			got := tb.waitState(t, j.ID, asyncmqtype.StateFailed)
			if got.Attempts != 1 || len(got.Errors) != 1 {
				t.Fatalf("attempts %d errors %+v, want one failed attempt", got.Attempts, got.Errors)
			}
			if e := got.Errors[0]; !strings.Contains(e.Error, tt.wantError) || e.Panic {
				t.Errorf("recorded error %+v, want one containing %q", e, tt.wantError)
			}
		})
	}
}

func TestWorkerRecordsPanicWithStack(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mux.HandleFunc("boom", func(ctx context.Context, job *Job) error {
		var order []int
		_ = order[job.Attempt] // index out of range
		return nil
	})
	j := tb.enqueue(t, "boom", nil, MaxRetries(1), FixedBackoff(time.Millisecond))
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	got := tb.waitState(t, j.ID, asyncmqtype.StateFailed)
	if len(got.Errors) != 2 {
		t.Fatalf("recorded %d errors, want 2 (a panic is retried like an error)", len(got.Errors))
	}
	e := got.Errors[0]
	if !e.Panic || e.Error != "panic: runtime error: index out of range [1] with length 0" {
		t.Errorf("error = %+v, want a panic", e)
	}
	if !strings.Contains(e.Stack, "TestWorkerRecordsPanicWithStack") || !strings.Contains(e.Stack, "worker_test.go") {
		t.Errorf("stack does not point at the handler:\n%s", e.Stack)
	}
}

func TestWorkerTimeoutCancelsHandler(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	causes := make(chan error, 1)
	tb.mux.HandleFunc("slow", func(ctx context.Context, job *Job) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	j := tb.enqueue(t, "slow", nil, Timeout(50*time.Millisecond), MaxRetries(0))
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	if cause := <-causes; !errors.Is(cause, ErrJobTimeout) {
		t.Errorf("handler context cause = %v, want ErrJobTimeout", cause)
	}
	got := tb.waitState(t, j.ID, asyncmqtype.StateFailed)
	if want := "job timed out after 50ms: context deadline exceeded"; len(got.Errors) != 1 || got.Errors[0].Error != want {
		t.Errorf("errors = %+v, want one %q", got.Errors, want)
	}
}

func TestWorkerCancelRunningJob(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	started := make(chan struct{})
	causes := make(chan error, 1)
	tb.mux.HandleFunc("long", func(ctx context.Context, job *Job) error {
		close(started)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	j := tb.enqueue(t, "long", nil)
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	<-started
	if err := NewInspector(tb.b).CancelJob(context.Background(), j.ID); err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, ErrJobCancelled) {
			t.Errorf("handler context cause = %v, want ErrJobCancelled", cause)
		}
	case <-time.After(waitTimeout):
		t.Fatal("handler context was not cancelled")
	}
	got := tb.waitState(t, j.ID, asyncmqtype.StateCancelled)
	if got.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", got.Attempts)
	}
}

func TestWorkerLostLeaseCancelsHandlerAndDiscardsOutcome(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var runs atomic.Int32
	started := make(chan struct{})
	causes := make(chan error, 1)
	tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
		if runs.Add(1) > 1 {
			return nil
		}
		close(started)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil // a success after the lease is gone must not be stored
	})
	j := tb.enqueue(t, "t", nil)
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	<-started
	// Pretend the lease expired an hour from now: the store requeues the job and the next
	// heartbeat learns that the worker lost it.
	res, err := tb.b.RecoverStalled(context.Background(), backend.RecoverParams{Now: time.Now().Add(time.Hour), MaxStalls: 5, Limit: 10})
	if err != nil || !slices.Equal(res.Requeued, []string{j.ID}) {
		t.Fatalf("RecoverStalled = %+v, %v", res, err)
	}
	if cause := <-causes; !errors.Is(cause, ErrLeaseLost) {
		t.Errorf("handler context cause = %v, want ErrLeaseLost", cause)
	}
	got := tb.waitState(t, j.ID, asyncmqtype.StateCompleted)
	if got.Attempts != 2 || got.Stalls != 1 {
		t.Errorf("attempts %d stalls %d, want 2 and 1", got.Attempts, got.Stalls)
	}
	evs, _ := tb.events.snapshot()
	if n := count(evs, func(e WorkerEvent) bool { return e.Kind == WorkerJobAbandoned && errors.Is(e.Err, ErrLeaseLost) }); n != 1 {
		t.Errorf("saw %d abandoned events, want 1", n)
	}
	if n := count(evs, finished(j.ID)); n != 1 {
		t.Errorf("saw %d stored outcomes, want 1 (the second run's)", n)
	}
}

func TestWorkerRecoversStalledJob(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mux.HandleFunc("t", func(context.Context, *Job) error { return nil })
	j := tb.enqueue(t, "t", nil)
	// A worker that claims the job and dies: its short lease is never extended.
	claimed, err := tb.b.Claim(context.Background(), backend.ClaimParams{Queue: DefaultQueue, WorkerID: "dead", Limit: 1, LeaseDuration: 30 * time.Millisecond})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("Claim = %v, %v", claimed, err)
	}
	cfg := tb.fastConfig(map[string]int{DefaultQueue: 1})
	cfg.StalledInterval = 10 * time.Millisecond
	tb.startWorker(t, cfg)
	got := tb.waitState(t, j.ID, asyncmqtype.StateCompleted)
	if got.Stalls != 1 || got.Attempts != 2 || got.WorkerID == "dead" {
		t.Errorf("stalls %d attempts %d worker %q, want 1, 2 and the live worker", got.Stalls, got.Attempts, got.WorkerID)
	}
}

func TestWorkerGracefulShutdown(t *testing.T) {
	t.Parallel()
	t.Run("in-flight job finishes within the grace period", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		started, proceed := make(chan struct{}), make(chan struct{})
		tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
			close(started)
			<-proceed
			return ctx.Err() // nil: the grace period has not ended
		})
		j := tb.enqueue(t, "t", nil)
		w, done := tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
		<-started
		shut := make(chan error, 1)
		go func() { shut <- w.Shutdown(context.Background()) }()
		<-w.stop
		close(proceed)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil after a graceful shutdown", err)
		}
		if got := tb.job(t, j.ID); got.State != asyncmqtype.StateCompleted {
			t.Errorf("state = %s, want completed", got.State)
		}
		ws, err := tb.b.Workers(context.Background())
		if err != nil || len(ws) != 0 {
			t.Errorf("workers after shutdown = %+v, %v; want none", ws, err)
		}
	})

	t.Run("job running past the grace period is cancelled and released", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		started := make(chan struct{})
		causes := make(chan error, 1)
		tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
			close(started)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return ctx.Err()
		})
		j := tb.enqueue(t, "t", nil)
		cfg := tb.fastConfig(map[string]int{DefaultQueue: 1})
		cfg.ShutdownTimeout = 50 * time.Millisecond
		w, _ := tb.startWorker(t, cfg)
		<-started
		if err := w.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if cause := <-causes; !errors.Is(cause, ErrWorkerShutdown) {
			t.Errorf("handler context cause = %v, want ErrWorkerShutdown", cause)
		}
		got := tb.job(t, j.ID)
		if got.State != asyncmqtype.StateWaiting || got.Attempts != 0 || len(got.Errors) != 0 {
			t.Errorf("released job: state %s attempts %d errors %v; want waiting, 0, none", got.State, got.Attempts, got.Errors)
		}
	})

	t.Run("handler ignoring cancellation is abandoned and released", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		started, unblock := make(chan struct{}), make(chan struct{})
		t.Cleanup(func() { close(unblock) })
		tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
			close(started)
			<-unblock
			return nil
		})
		j := tb.enqueue(t, "t", nil)
		cfg := tb.fastConfig(map[string]int{DefaultQueue: 1})
		cfg.ShutdownTimeout = 10 * time.Millisecond
		w, _ := tb.startWorker(t, cfg)
		<-started
		began := time.Now()
		if err := w.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if took := time.Since(began); took > abandonAfter+2*time.Second {
			t.Errorf("Shutdown took %s", took)
		}
		if got := tb.job(t, j.ID); got.State != asyncmqtype.StateWaiting {
			t.Errorf("state = %s, want waiting (released)", got.State)
		}
	})

	t.Run("Shutdown context ends the grace period early", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		started := make(chan struct{})
		tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		tb.enqueue(t, "t", nil)
		cfg := tb.fastConfig(map[string]int{DefaultQueue: 1})
		cfg.ShutdownTimeout = time.Hour
		w, done := tb.startWorker(t, cfg)
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := w.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
		}
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after the Shutdown context ended")
		}
	})
}

func TestWorkerHonoursPauseWithinOneSecond(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ran := make(chan time.Time, 1)
	tb.mux.HandleFunc("t", func(context.Context, *Job) error {
		ran <- time.Now()
		return nil
	})
	insp := NewInspector(tb.b)
	ctx := context.Background()
	cfg := tb.fastConfig(map[string]int{"q": 1})
	cfg.PollInterval = 0 // the default, 250ms, is what the promise is about
	tb.startWorker(t, cfg)
	tb.enqueue(t, "warm", nil, Queue("q")) // makes the queue known so it can be paused
	if err := insp.PauseQueue(ctx, "q"); err != nil {
		t.Fatalf("PauseQueue: %v", err)
	}
	j := tb.enqueue(t, "t", nil, Queue("q"))

	// Empty claims after the enqueue show the worker skipping the paused queue. Seven of them
	// take the idle backoff (10ms doubling) to its 250ms ceiling: the slowest case for resume.
	evs, _ := tb.events.snapshot()
	seen := len(evs)
	tb.events.waitUntil(t, "seven empty claims", func(evs []WorkerEvent) bool {
		return count(evs[seen:], func(e WorkerEvent) bool { return e.Kind == WorkerFetched && e.Count == 0 }) >= 7
	})
	if got := tb.job(t, j.ID); got.State != asyncmqtype.StateWaiting {
		t.Fatalf("job of a paused queue is %s, want waiting", got.State)
	}

	resumed := time.Now()
	if err := insp.ResumeQueue(ctx, "q"); err != nil {
		t.Fatalf("ResumeQueue: %v", err)
	}
	select {
	case at := <-ran:
		if d := at.Sub(resumed); d > time.Second {
			t.Errorf("job started %s after resume, want within 1s", d)
		}
	case <-time.After(waitTimeout):
		t.Fatal("job did not run after resume")
	}
}

func TestWorkerRunsDependentsAfterParents(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var mu sync.Mutex
	var order []string
	release := make(chan struct{})
	tb.mux.HandleFunc("parent", func(ctx context.Context, job *Job) error {
		<-release
		mu.Lock()
		order = append(order, "parent")
		mu.Unlock()
		return nil
	})
	tb.mux.HandleFunc("child", func(ctx context.Context, job *Job) error {
		mu.Lock()
		order = append(order, "child")
		mu.Unlock()
		return nil
	})
	p := tb.enqueue(t, "parent", nil)
	c := tb.enqueue(t, "child", nil, DependsOn(p.ID))
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 4}))

	tb.events.waitUntil(t, "a few claims", func(evs []WorkerEvent) bool { return count(evs, isKind(WorkerFetched)) >= 3 })
	if got := tb.job(t, c.ID); got.State != asyncmqtype.StateWaitingChildren || got.PendingDeps != 1 {
		t.Fatalf("child while parent runs: state %s pending %d, want waiting-children and 1", got.State, got.PendingDeps)
	}
	close(release)
	tb.waitState(t, c.ID, asyncmqtype.StateCompleted)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []string{"parent", "child"}) {
		t.Errorf("order = %v, want parent then child", order)
	}
}

func TestWorkerRunsByPriorityAndRespectsConcurrency(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	var mu sync.Mutex
	var order []int
	var running, peak atomic.Int32
	tb.mux.HandleFunc("t", func(ctx context.Context, job *Job) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		order = append(order, job.Priority)
		mu.Unlock()
		return nil
	})
	var ids []string
	for _, p := range []int{5, 1, 9, 3, 1} {
		ids = append(ids, tb.enqueue(t, "t", nil, Priority(p)).ID)
	}
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	for _, id := range ids {
		tb.waitState(t, id, asyncmqtype.StateCompleted)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []int{1, 1, 3, 5, 9}) {
		t.Errorf("priorities ran in order %v, want lowest first", order)
	}
	if peak.Load() != 1 {
		t.Errorf("%d jobs ran at once with concurrency 1", peak.Load())
	}
}

func TestWorkerRunsDelayedJobWhenDue(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mux.HandleFunc("t", func(context.Context, *Job) error { return nil })
	j := tb.enqueue(t, "t", nil, Delay(80*time.Millisecond))
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	got := tb.waitState(t, j.ID, asyncmqtype.StateCompleted)
	if got.StartedAt.Before(j.RunAt) {
		t.Errorf("started at %v, before its run time %v", got.StartedAt, j.RunAt)
	}
}

func TestRepeatableFiresOnceAcrossWorkers(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	var runs atomic.Int32
	tb.mux.HandleFunc("report", func(context.Context, *Job) error { runs.Add(1); return nil })

	r, err := NewInspector(tb.b).CreateRepeatable(ctx, RepeatableSpec{Queue: "cron", Task: "report", Interval: time.Hour})
	if err != nil {
		t.Fatalf("CreateRepeatable: %v", err)
	}
	// Make the first run due now rather than in an hour.
	due := time.Now().Add(-time.Second).UTC()
	r.NextRun = due
	if err := tb.b.UpsertRepeatable(ctx, r); err != nil {
		t.Fatalf("UpsertRepeatable: %v", err)
	}

	logs := []*eventLog{{changed: make(chan struct{})}, {changed: make(chan struct{})}}
	for _, l := range logs {
		cfg := tb.fastConfig(map[string]int{"cron": 2})
		cfg.OnEvent = l.record
		tb.startWorker(t, cfg)
	}
	// Only the maintenance leader schedules: wait for three of its passes.
	deadline := time.Now().Add(waitTimeout)
	for {
		passes, leaders := 0, 0
		for _, l := range logs {
			evs, _ := l.snapshot()
			passes += count(evs, isKind(WorkerScheduled))
			leaders += count(evs, func(e WorkerEvent) bool { return e.Kind == WorkerLeader && e.Count == 1 })
		}
		if passes >= 3 {
			if leaders != 1 {
				t.Errorf("%d workers became leader, want 1", leaders)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d scheduling passes after %s, want 3", passes, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fired := 0
	for _, l := range logs {
		evs, _ := l.snapshot()
		fired += count(evs, isKind(WorkerRepeatableFired))
	}
	if fired != 1 {
		t.Errorf("repeatable fired %d times across two workers, want 1", fired)
	}
	page, err := tb.b.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "cron", State: asyncmqtype.StateCompleted}, Limit: 10})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	// The job may still be running; count it in every state.
	total := 0
	q, err := tb.b.Queue(ctx, "cron")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	total = q.Total()
	if total != 1 {
		t.Errorf("queue holds %d jobs, want 1", total)
	}
	for _, j := range page.Jobs {
		if j.RepeatableID != r.ID || j.Task != "report" {
			t.Errorf("job %+v was not made by the repeatable", j)
		}
	}
	stored, err := tb.b.GetRepeatable(ctx, r.ID)
	if err != nil {
		t.Fatalf("GetRepeatable: %v", err)
	}
	if !stored.NextRun.After(time.Now().Add(59 * time.Minute)) {
		t.Errorf("next run = %v, want about an hour from now", stored.NextRun)
	}
}

func TestWorkerRetentionCleansFinishedJobs(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mux.HandleFunc("t", func(context.Context, *Job) error { return nil })
	cfg := tb.fastConfig(map[string]int{DefaultQueue: 4})
	cfg.Retention = &Retention{Completed: RetentionPolicy{MaxCount: 2}, Interval: 10 * time.Millisecond}
	var ids []string
	for range 5 {
		ids = append(ids, tb.enqueue(t, "t", nil).ID)
	}
	tb.startWorker(t, cfg)
	tb.events.waitUntil(t, "five completions and a clean", func(evs []WorkerEvent) bool {
		q, err := tb.b.Queue(context.Background(), DefaultQueue)
		return err == nil && count(evs, isKind(WorkerJobFinished)) == 5 && q.Counts[asyncmqtype.StateCompleted] == 2
	})
	for _, id := range ids[3:] {
		if got := tb.job(t, id); got.State != asyncmqtype.StateCompleted {
			t.Errorf("newest job %s is %s, want kept", id, got.State)
		}
	}
}

func TestNewWorkerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	noop := HandlerFunc(func(context.Context, *Job) error { return nil })
	one := map[string]int{"q": 1}
	tests := []struct {
		name string
		b    Store
		h    Handler
		cfg  WorkerConfig
		want string
	}{
		{name: "nil backend", h: noop, cfg: WorkerConfig{Queues: one}, want: "nil backend"},
		{name: "nil handler", b: tb.b, cfg: WorkerConfig{Queues: one}, want: "nil handler"},
		{name: "no queues", b: tb.b, h: noop, want: "WorkerConfig.Queues: no queue given"},
		{name: "zero concurrency", b: tb.b, h: noop, cfg: WorkerConfig{Queues: map[string]int{"q": 0}}, want: `queue "q" has concurrency 0`},
		{name: "bad queue name", b: tb.b, h: noop, cfg: WorkerConfig{Queues: map[string]int{"a b": 1}}, want: "contains whitespace"},
		{name: "negative lease", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, LeaseDuration: -time.Second}, want: "WorkerConfig.LeaseDuration: -1s is negative"},
		{name: "heartbeat not shorter than lease", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, LeaseDuration: time.Second, HeartbeatInterval: time.Second}, want: "WorkerConfig.HeartbeatInterval"},
		{name: "lease without its unit", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, LeaseDuration: 2}, want: "WorkerConfig.LeaseDuration: 2ns is shorter than the minimum 100ms"},
		{name: "heartbeat below minimum", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, HeartbeatInterval: time.Microsecond}, want: "WorkerConfig.HeartbeatInterval: 1µs is shorter"},
		{name: "stalled below minimum", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, StalledInterval: 5}, want: "WorkerConfig.StalledInterval"},
		{name: "poll below minimum", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, PollInterval: 5}, want: "WorkerConfig.PollInterval"},
		{name: "schedule below minimum", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, ScheduleInterval: 5}, want: "WorkerConfig.ScheduleInterval"},
		{name: "retention interval below minimum", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, Retention: &Retention{Interval: 5}}, want: "WorkerConfig.Retention.Interval"},
		{name: "max stalls", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, MaxStalls: -2}, want: "WorkerConfig.MaxStalls"},
		{name: "retention", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, Retention: &Retention{Failed: RetentionPolicy{MaxCount: -1}}}, want: "WorkerConfig.Retention.Failed"},
		{name: "worker ID", b: tb.b, h: noop, cfg: WorkerConfig{Queues: one, WorkerID: "my worker"}, want: "WorkerConfig.WorkerID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := NewWorker(tt.b, tt.h, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewWorker error = %v, want one containing %q", err, tt.want)
			}
			if !errors.Is(err, asyncmqtype.ErrInvalid) || w != nil {
				t.Errorf("NewWorker = %v, %v; want nil and an error wrapping asyncmqtype.ErrInvalid", w, err)
			}
		})
	}
}

func TestWorkerConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := WorkerConfig{Queues: map[string]int{"q": 3}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LeaseDuration != 30*time.Second || cfg.HeartbeatInterval != 10*time.Second || cfg.ShutdownTimeout != 10*time.Second ||
		cfg.StalledInterval != 15*time.Second || cfg.MaxStalls != 1 || cfg.PollInterval != 250*time.Millisecond ||
		*cfg.Retention != DefaultRetention() || cfg.MaxResultBytes != DefaultMaxPayloadBytes {
		t.Errorf("defaults = %+v", cfg)
	}
	// The shortest lease accepted derives intervals a ticker accepts.
	cfg, err = WorkerConfig{Queues: map[string]int{"q": 1}, LeaseDuration: MinLeaseDuration}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HeartbeatInterval <= 0 || cfg.StalledInterval <= 0 {
		t.Errorf("with the minimum lease: heartbeat %s, stalled %s; want both positive", cfg.HeartbeatInterval, cfg.StalledInterval)
	}
}

func TestWorkerRunFailsOnClosedBackend(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	cfg := tb.fastConfig(map[string]int{"q": 1})
	cfg.WorkerID = "w1"
	w, err := NewWorker(tb.b, tb.mux, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = tb.b.Close()
	err = w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `run worker "w1": register with the backend`) || !errors.Is(err, asyncmqtype.ErrClosed) {
		t.Errorf("Run on a closed backend = %v, want a registration error wrapping ErrClosed", err)
	}
}

func TestWorkerRunTwice(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	w, _ := tb.startWorker(t, tb.fastConfig(map[string]int{"q": 1}))
	tb.events.waitUntil(t, "worker registered", func(evs []WorkerEvent) bool { return count(evs, isKind(WorkerHeartbeat)) > 0 })
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("second Run = %v, want an already-started error", err)
	}
}

// flakyFinish fails the first n Finish calls as a whole, as a store that is briefly unreachable.
type flakyFinish struct {
	Store
	failures atomic.Int32
	calls    atomic.Int32
}

func (f *flakyFinish) Finish(ctx context.Context, p backend.FinishParams) ([]error, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return nil, errors.New("connection reset")
	}
	return f.Store.Finish(ctx, p)
}

func TestWorkerRetriesFailedFinish(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	flaky := &flakyFinish{Store: tb.b}
	flaky.failures.Store(2)
	tb.b = flaky
	tb.mux.HandleFunc("t", func(context.Context, *Job) error { return nil })
	j := tb.enqueue(t, "t", nil)
	tb.startWorker(t, tb.fastConfig(map[string]int{DefaultQueue: 1}))
	got := tb.waitState(t, j.ID, asyncmqtype.StateCompleted)
	if got.Attempts != 1 || flaky.calls.Load() != 3 {
		t.Errorf("attempts %d after %d Finish calls; want the outcome stored on the third call of the first attempt", got.Attempts, flaky.calls.Load())
	}
}
