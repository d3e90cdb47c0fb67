package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// holdLock takes SQLite's write lock on the file from another connection, as another process
// would, until the test ends or the returned function is called.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

func TestWriteWhileAnotherProcessHoldsTheLock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []Option
		timeout time.Duration
		check   func(t *testing.T, err error)
	}{
		{"busy timeout passes", []Option{BusyTimeout(100 * time.Millisecond)}, time.Minute, func(t *testing.T, err error) {
			if !isBusy(err) || !strings.Contains(err.Error(), "locked") {
				t.Errorf("got %v, want a locked database error", err)
			}
		}},
		{"context ends first", []Option{BusyTimeout(time.Minute)}, 100 * time.Millisecond, func(t *testing.T, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want the context's error", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, tt.opts...)
			release := holdLock(t, s.path)
			ctx, cancel := context.WithTimeout(s.ctx, tt.timeout)
			defer cancel()
			start := time.Now()
			err := s.b.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("a", "q")}})
			if waited := time.Since(start); waited > 30*time.Second {
				t.Errorf("Enqueue returned after %s", waited)
			}
			tt.check(t, err)
			if _, err := s.b.GetJob(s.ctx, "a"); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
				t.Errorf("job stored by a failed enqueue: %v", err)
			}
			release()
			if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("a", "q")}}); err != nil {
				t.Fatalf("enqueue after the lock was released: %v", err)
			}
			s.requireCountersMatchRows()
		})
	}
}

// TestReadsDoNotWaitForWriters reads while another connection holds the write lock: in WAL
// mode the dashboard's reads go on while workers write.
func TestReadsDoNotWaitForWriters(t *testing.T) {
	t.Parallel()
	s := setup(t, BusyTimeout(time.Minute))
	s.enqueueN("q", "j", 3, t0)
	holdLock(t, s.path)
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if _, err := s.b.GetJob(ctx, "j-00001"); err != nil {
		t.Errorf("get job: %v", err)
	}
	page, err := s.b.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateWaiting}, Limit: 10})
	if err != nil || page.Total != 3 {
		t.Errorf("list: %d jobs, %v", page.Total, err)
	}
	if err := s.b.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}

// TestIdleClaimTakesNoLock claims, promotes and recovers with nothing to do while another
// process holds the write lock: idle workers poll all the time, and must not queue for the lock
// to find out.
func TestIdleClaimTakesNoLock(t *testing.T) {
	t.Parallel()
	s := setup(t, BusyTimeout(time.Minute))
	s.enqueueN("later", "j", 1, t0, func(j *asyncmqtype.JobInfo) { j.RunAt = t0.Add(time.Hour) })
	s.enqueueN("paused", "p", 1, t0)
	if err := s.b.SetQueuePaused(s.ctx, "paused", true); err != nil {
		t.Fatal(err)
	}
	holdLock(t, s.path)
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	for _, q := range []string{"empty", "later", "paused"} {
		jobs, err := s.b.Claim(ctx, backend.ClaimParams{Queue: q, Limit: 10, LeaseDuration: time.Minute, Now: t0})
		if err != nil || len(jobs) != 0 {
			t.Errorf("claim from %s: %d jobs, %v; want none and no wait", q, len(jobs), err)
		}
	}
	if n, err := s.b.PromoteDue(ctx, backend.PromoteParams{Now: t0}); err != nil || n != 0 {
		t.Errorf("promote: %d jobs, %v; want none and no wait", n, err)
	}
	if res, err := s.b.RecoverStalled(ctx, backend.RecoverParams{Now: t0}); err != nil || len(res.Requeued)+len(res.Failed) != 0 {
		t.Errorf("recover: %+v, %v; want nothing and no wait", res, err)
	}
}

// TestWritePanicEndsTransaction checks that a panic inside a write transaction, which an HTTP
// server recovers from, does not leave the write connection inside the transaction, holding
// SQLite's write lock for good.
func TestWritePanicEndsTransaction(t *testing.T) {
	t.Parallel()
	s := setup(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("write did not pass the panic on")
			}
		}()
		s.b.write(s.ctx, t0, func(w *wtx) error {
			if _, err := w.exec(`INSERT INTO asyncmq_queues (name) VALUES ('lost')`); err != nil {
				t.Fatal(err)
			}
			panic("handler bug")
		})
	}()
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.b.SetQueuePaused(ctx, "next", true); err != nil {
		t.Fatalf("write after a panicked write: %v", err)
	}
	if _, err := s.b.Queue(ctx, "lost"); !errors.Is(err, asyncmqtype.ErrQueueNotFound) {
		t.Fatalf("queue written by the panicked transaction: got error %v, want ErrQueueNotFound", err)
	}
}

// TestBusyTimeoutHoldsForQueuedEnqueues: while another process holds the lock, Enqueue calls
// queued behind a group-commit leader that is waiting for it fail within their own busy timeout,
// not after the leader's wait and then their own.
func TestBusyTimeoutHoldsForQueuedEnqueues(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	s := setup(t, BusyTimeout(timeout))
	holdLock(t, s.path)
	leaderDone := make(chan error, 1)
	go func() {
		leaderDone <- s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("leader", "q")}})
	}()
	// Wait until the leader's transaction has taken it from the queue and is polling the lock.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		s.b.enq.mu.Lock()
		taken := s.b.enq.leading && len(s.b.enq.queue) == 0
		s.b.enq.mu.Unlock()
		if taken {
			break
		}
		<-tick.C
	}
	const followers = 4
	waited := make(chan time.Duration, followers)
	errs := make(chan error, followers)
	for i := range followers {
		go func() {
			start := time.Now()
			err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob(fmt.Sprintf("f%d", i), "q")}})
			waited <- time.Since(start)
			errs <- err
		}()
	}
	for range followers {
		if d := <-waited; d > timeout+timeout/2 {
			t.Errorf("a queued Enqueue waited %s with a busy timeout of %s", d, timeout)
		}
		if err := <-errs; !isBusy(err) || !strings.Contains(err.Error(), "busy timeout") {
			t.Errorf("queued Enqueue: %v, want a locked-database error naming the busy timeout", err)
		}
	}
	if err := <-leaderDone; !isBusy(err) {
		t.Errorf("leader: %v, want a locked-database error", err)
	}
}
