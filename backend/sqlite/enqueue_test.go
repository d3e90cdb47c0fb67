package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestConcurrentEnqueues enqueues from many goroutines at once, so that calls share
// transactions, with some calls bound to fail: each call must get its own outcome.
func TestConcurrentEnqueues(t *testing.T) {
	t.Parallel()
	s := setup(t)
	const goroutines, calls = 16, 15
	var mu sync.Mutex
	stored, exists, duplicate := 0, 0, 0
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				var jobs []*asyncmqtype.JobInfo
				switch i % 3 {
				case 0: // unique to this call
					jobs = []*asyncmqtype.JobInfo{newJob(fmt.Sprintf("g%02d-%02d", g, i), "q")}
				case 1: // every goroutine tries the same ID
					jobs = []*asyncmqtype.JobInfo{newJob(fmt.Sprintf("shared-%02d", i), "q")}
				case 2: // a fresh ID, but every goroutine holds the same unique key
					j := newJob(fmt.Sprintf("u%02d-%02d", g, i), "q")
					j.UniqueKey = fmt.Sprintf("key-%02d", i)
					jobs = []*asyncmqtype.JobInfo{j, newJob(fmt.Sprintf("u%02d-%02d-b", g, i), "q")}
				}
				err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs})
				mu.Lock()
				switch {
				case err == nil:
					stored += len(jobs)
				case errors.Is(err, asyncmqtype.ErrJobExists):
					exists++
				case errors.Is(err, asyncmqtype.ErrDuplicateJob):
					duplicate++
				default:
					t.Errorf("enqueue %s: %v", jobs[0].ID, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const perKind = calls / 3
	wantStored := goroutines*perKind + perKind + 2*perKind
	if stored != wantStored || exists != (goroutines-1)*perKind || duplicate != (goroutines-1)*perKind {
		t.Errorf("stored %d jobs, %d calls found the ID taken, %d the key; want %d, %d, %d",
			stored, exists, duplicate, wantStored, (goroutines-1)*perKind, (goroutines-1)*perKind)
	}
	s.requireCountersMatchRows()
	evs, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != stored {
		t.Errorf("%d events for %d stored jobs: a failed call left events", len(evs), stored)
	}
}

// TestEnqueueGivesUp lets queued calls give up while another process holds the lock: none of
// them may be stored, and the calls after them must not wait for a lead that was dropped.
func TestEnqueueGivesUp(t *testing.T) {
	t.Parallel()
	s := setup(t, BusyTimeout(time.Minute))
	release := holdLock(t, s.path)
	ctx, cancel := context.WithTimeout(s.ctx, 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := s.b.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob(fmt.Sprint("gave-up-", i), "q")}})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("enqueue %d: got %v, want the context's error", i, err)
			}
		})
	}
	wg.Wait()
	release()
	late, cancelLate := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancelLate()
	if err := s.b.Enqueue(late, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("after", "q")}}); err != nil {
		t.Fatalf("enqueue after the others gave up: %v", err)
	}
	page, err := s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateWaiting}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || page.Jobs[0].ID != "after" {
		t.Errorf("stored %d jobs, want only the one enqueued after the lock was released", page.Total)
	}
}

// TestEnqueueLeaderGivesUp cancels the call that runs a shared transaction while another call
// waits in it: the other call must still be written, by a transaction of its own.
func TestEnqueueLeaderGivesUp(t *testing.T) {
	t.Parallel()
	s := setup(t, BusyTimeout(time.Minute))
	release := holdLock(t, s.path)
	leaderCtx, cancelLeader := context.WithCancel(s.ctx)
	leaderErr := make(chan error, 1)
	go func() {
		leaderErr <- s.b.Enqueue(leaderCtx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("leader", "q")}})
	}()
	// The leader took the queue and waits for the lock; once the follower is queued behind it,
	// the leader gives up.
	waitFor(t, func() bool {
		s.b.enq.mu.Lock()
		defer s.b.enq.mu.Unlock()
		return s.b.enq.leading && len(s.b.enq.queue) == 0
	})
	followerErr := make(chan error, 1)
	go func() {
		followerErr <- s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("follower", "q")}})
	}()
	waitFor(t, func() bool {
		s.b.enq.mu.Lock()
		defer s.b.enq.mu.Unlock()
		return len(s.b.enq.queue) == 1
	})
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: got %v, want context.Canceled", err)
	}
	release()
	if err := <-followerErr; err != nil {
		t.Fatalf("follower: %v", err)
	}
	if _, err := s.b.GetJob(s.ctx, "follower"); err != nil {
		t.Errorf("follower not stored: %v", err)
	}
	if _, err := s.b.GetJob(s.ctx, "leader"); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
		t.Errorf("the leader's job was stored after it gave up: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
