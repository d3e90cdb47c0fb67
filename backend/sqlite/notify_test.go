package sqlite

import (
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestNotify checks that every transition that may make a job claimable signals its queue after
// the commit, beyond what the conformance suite covers, and that other transitions do not.
func TestNotify(t *testing.T) {
	t.Parallel()
	s := setup(t)
	c, stop := s.b.Subscribe("q")
	defer stop()
	expect := func(want bool, what string) {
		t.Helper()
		select {
		case <-c:
			if !want {
				t.Errorf("unexpected signal %s", what)
			}
		case <-time.After(20 * time.Millisecond):
			if want {
				t.Errorf("no signal %s", what)
			}
		}
	}

	s.enqueueN("q", "a", 1, t0)
	expect(true, "after an enqueue")
	s.enqueueN("other", "o", 1, t0)
	expect(false, "after an enqueue to another queue")

	jobs := s.claim(t0, 1, "q")
	expect(false, "after a claim")
	if err := s.b.Release(s.ctx, backend.ReleaseParams{Leases: []backend.Lease{{JobID: jobs[0].ID, LeaseToken: jobs[0].LeaseToken}}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	expect(true, "after a release")

	s.claim(t0, 1, "q")
	if _, err := s.b.RecoverStalled(s.ctx, backend.RecoverParams{Now: t0.Add(time.Hour), MaxStalls: 5}); err != nil {
		t.Fatal(err)
	}
	expect(true, "after a stalled job was re-queued")

	// A child becomes claimable when its last parent completes.
	parent := s.claim(t0, 1, "q")
	child := newJob("child", "q")
	child.DependsOn = []string{parent[0].ID}
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{child}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	// The enqueue of a blocked child may signal; the parent's completion must.
	select {
	case <-c:
	case <-time.After(20 * time.Millisecond):
	}
	s.finishAll(t0, parent, asyncmqtype.OutcomeCompleted)
	expect(true, "after the last parent of a waiting child completed")
	s.finishAll(t0, s.claim(t0, 1, "q"), asyncmqtype.OutcomeFailed)
	expect(false, "after a failure")

	if n, err := s.b.ApplyJobs(s.ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"child"}, Now: t0}); err != nil || n != 1 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	expect(true, "after a retry by ApplyJobs")

	if err := s.b.SetQueuePaused(s.ctx, "q", true); err != nil {
		t.Fatal(err)
	}
	expect(false, "after a pause")
	if err := s.b.SetQueuePaused(s.ctx, "q", false); err != nil {
		t.Fatal(err)
	}
	expect(true, "after a resume")

	// A failed enqueue signals nothing: its transaction, or savepoint, was rolled back.
	if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("child", "q")}, Now: t0}); err == nil {
		t.Fatal("enqueue of an existing ID succeeded")
	}
	expect(false, "after a failed enqueue")
}

// TestElect checks the lease row beyond the suite: a lease expiring exactly at Now holds, and
// Resign by another holder changes nothing.
func TestElect(t *testing.T) {
	t.Parallel()
	s := setup(t)
	elect := func(holder string, now time.Time) backend.Leadership {
		t.Helper()
		l, err := s.b.Elect(s.ctx, backend.ElectParams{Name: "maintenance", Holder: holder, TTL: 10 * time.Second, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := elect("a", t0); l.Holder != "a" || !l.Expires.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("first election: %+v", l)
	}
	if l := elect("b", t0.Add(10*time.Second)); l.Holder != "a" {
		t.Fatalf("a lease expiring exactly at Now was taken: %+v", l)
	}
	if l := elect("a", t0.Add(5*time.Second)); l.Holder != "a" || !l.Expires.Equal(t0.Add(15*time.Second)) {
		t.Fatalf("extension: %+v", l)
	}
	if err := s.b.Resign(s.ctx, backend.ResignParams{Name: "maintenance", Holder: "b"}); err != nil {
		t.Fatal(err)
	}
	if l := elect("b", t0.Add(6*time.Second)); l.Holder != "a" {
		t.Fatalf("resign by a non-holder freed the lease: %+v", l)
	}
	if l := elect("b", t0.Add(15*time.Second+time.Nanosecond)); l.Holder != "b" {
		t.Fatalf("expired lease not taken: %+v", l)
	}
	if err := s.b.Resign(s.ctx, backend.ResignParams{Name: "maintenance", Holder: "b"}); err != nil {
		t.Fatal(err)
	}
	if l := elect("a", t0.Add(16*time.Second)); l.Holder != "a" {
		t.Fatalf("resigned lease not free: %+v", l)
	}
}

// TestNotifyAcrossHandles checks the watcher: a job enqueued through another Backend (as another
// process would) wakes a subscriber, a write of the subscriber's own Backend is signalled once,
// not again by the watcher, and WatchInterval(0) turns it off.
func TestNotifyAcrossHandles(t *testing.T) {
	t.Parallel()
	a := setup(t)
	b, err := Open(t.Context(), a.path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	off, err := Open(t.Context(), a.path, WatchInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if !a.b.AcrossProcesses() || off.AcrossProcesses() {
		t.Fatalf("AcrossProcesses = %v, %v with WatchInterval(0); want true, false", a.b.AcrossProcesses(), off.AcrossProcesses())
	}
	c, stop := a.b.Subscribe("q")
	defer stop()
	cOff, stopOff := off.Subscribe("q")
	defer stopOff()
	time.Sleep(20 * time.Millisecond) // the watcher starts
	enqueue := func(via *Backend, id, queue string) {
		t.Helper()
		if err := via.Enqueue(t.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob(id, queue)}}); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(c <-chan struct{}, within time.Duration) bool {
		select {
		case <-c:
			return true
		case <-time.After(within):
			return false
		}
	}

	start := time.Now()
	enqueue(b, "from-b", "q")
	if !wait(c, time.Second) {
		t.Fatal("no signal after an enqueue through another Backend")
	}
	t.Logf("signalled %s after the enqueue through another Backend", time.Since(start))
	if wait(cOff, 50*time.Millisecond) {
		t.Error("signal with WatchInterval(0) after an enqueue through another Backend")
	}

	enqueue(b, "other-queue", "r")
	if wait(c, 50*time.Millisecond) {
		t.Error("signal after an enqueue to another queue")
	}
	enqueue(a.b, "own", "q")
	if !wait(c, time.Second) {
		t.Fatal("no signal after an own enqueue")
	}
	if wait(c, 50*time.Millisecond) {
		t.Error("own enqueue signalled twice")
	}

	stop()
	stopOff()
	// The watcher stops on its own after the last subscriber leaves; on a loaded machine that
	// may take a while, so the test waits for it rather than for a fixed time.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.b.watch.mu.Lock()
		running := a.b.watch.running
		a.b.watch.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher still runs 5s after its last subscriber left")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCovered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ranges      [][2]int64
		first, last int64
		want        bool
	}{
		{nil, 1, 1, false},
		{[][2]int64{{1, 5}}, 1, 5, true},
		{[][2]int64{{1, 5}}, 1, 6, false},
		{[][2]int64{{1, 2}, {3, 5}}, 1, 5, true},
		{[][2]int64{{1, 2}, {4, 5}}, 1, 5, false},
		{[][2]int64{{2, 5}}, 1, 5, false},
		{[][2]int64{{3, 4}, {5, 9}}, 3, 8, true},
	} {
		if got := covered(tc.ranges, tc.first, tc.last); got != tc.want {
			t.Errorf("covered(%v, %d, %d) = %v, want %v", tc.ranges, tc.first, tc.last, got, tc.want)
		}
	}
}
