// Package backendtest is the conformance suite every asyncmq backend must pass. A backend's own
// tests call Run with a factory of fresh, empty backends:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Store {
//			b := mybackend.Open(t.TempDir())
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// Durable backends, where two handles can share one store, also call RunShared.
//
// The suite checks the behaviour documented on backend.Store and asyncmqtype.JobInfo. Every test passes
// explicit times (Now) to the backend, so nothing sleeps, and every subtest runs in parallel on its
// own backend. When the contract changes, this suite changes first.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/jobid"
)

// factory is Run's argument: it returns a fresh, empty backend and registers its cleanup.
type factory = func(t *testing.T) backend.Store

// Run runs the whole suite; newBackend returns a fresh, empty backend for each subtest and
// registers its cleanup with t.Cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(*testing.T, factory)
	}{
		{"Enqueue", testEnqueue},
		{"Dependencies", testParentDependencies},
		{"EnqueueReportsState", testEnqueueReportsState},
		{"Headers", testHeaders},
		{"Claim", testClaim},
		{"Finish", testFinish},
		{"Lease", testLease},
		{"Queue", testQueue},
		{"Listing", testListing},
		{"Bulk", testBulk},
		{"Repeatable", testRepeatable},
		{"Events", testEvents},
		{"Metrics", testMetrics},
		{"Audit", testAudit},
		{"Workers", testWorkers},
		{"Lifecycle", testLifecycle},
		{"Leader", testLeader},
		{"Seam", testSeam},
		{"Notify", testNotify},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newBackend)
		})
	}
}

// t0 is the suite's reference time. It falls on a minute so metric buckets are predictable,
// and far from the real clock so a backend that ignores Now is caught.
var t0 = time.Date(2031, time.March, 4, 5, 6, 0, 0, time.UTC)

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// lease is the lease duration of the suite's claims.
const lease = 30 * time.Second

// bundle is one subtest's backend with helpers that fail the test on unexpected errors.
type bundle struct {
	t   *testing.T
	b   backend.Store
	ctx context.Context
}

func setup(t *testing.T, newBackend factory) *bundle {
	t.Helper()
	return &bundle{t: t, b: newBackend(t), ctx: t.Context()}
}

// sealedID returns a new ID of the form asyncmq.NewID gives: a random UUIDv7, sealed.
func sealedID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	jobid.Seal(&b)
	return jobid.Text(&b)
}

// job builds a job of queue "default" with the given ID and options.
func job(id string, opts ...func(*asyncmqtype.JobInfo)) *asyncmqtype.JobInfo {
	j := &asyncmqtype.JobInfo{
		ID:         id,
		Queue:      "default",
		Task:       "email.send",
		Payload:    json.RawMessage(`{"n":1}`),
		Priority:   5,
		MaxRetries: 3,
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func inQueue(q string) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.Queue = q }
}
func withTask(task string) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.Task = task }
}
func withPriority(p int) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.Priority = p }
}
func runAt(t time.Time) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.RunAt = t }
}
func createdAt(t time.Time) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.CreatedAt = t }
}
func withPayload(p string) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.Payload = json.RawMessage(p) }
}
func dependsOn(ids ...string) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.DependsOn = ids }
}
func onParentFailure(p asyncmqtype.ParentFailure) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.OnParentFailure = p }
}
func unique(key string, until time.Time) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.UniqueKey, j.UniqueUntil = key, until }
}

// enqueue stores jobs at t0.
func (s *bundle) enqueue(jobs ...*asyncmqtype.JobInfo) {
	s.t.Helper()
	s.enqueueAt(t0, jobs...)
}

func (s *bundle) enqueueAt(now time.Time, jobs ...*asyncmqtype.JobInfo) {
	s.t.Helper()
	requireNoError(s.t, s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: now}), "enqueue")
}

// claim takes up to limit jobs of queue (default "default") for worker "w1".
func (s *bundle) claim(now time.Time, limit int, queue ...string) []*asyncmqtype.JobInfo {
	s.t.Helper()
	q := "default"
	if len(queue) > 0 {
		q = queue[0]
	}
	jobs, err := s.b.Claim(s.ctx, backend.ClaimParams{
		Queue: q, WorkerID: "w1", Limit: limit, LeaseDuration: lease, Now: now,
	})
	requireNoError(s.t, err, "claim")
	return jobs
}

// claimOne claims exactly one job of queue "default" and fails the test when it gets another.
func (s *bundle) claimOne(now time.Time, wantID string) *asyncmqtype.JobInfo {
	s.t.Helper()
	jobs := s.claim(now, 1)
	if got := ids(jobs); !slices.Equal(got, []string{wantID}) {
		s.t.Fatalf("claim at %s got %v, want [%s]", now.Format(time.TimeOnly), got, wantID)
	}
	return jobs[0]
}

// finish reports outcomes and returns the per-item errors.
func (s *bundle) finish(now time.Time, items ...backend.Finish) []error {
	s.t.Helper()
	errs, err := s.b.Finish(s.ctx, backend.FinishParams{Items: items, Now: now})
	requireNoError(s.t, err, "finish")
	if len(errs) != len(items) {
		s.t.Fatalf("finish returned %d errors for %d items", len(errs), len(items))
	}
	return errs
}

// finishOK reports one outcome that must succeed.
func (s *bundle) finishOK(now time.Time, j *asyncmqtype.JobInfo, o asyncmqtype.Outcome, mods ...func(*backend.Finish)) {
	s.t.Helper()
	f := backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: o}
	if o != asyncmqtype.OutcomeCompleted {
		f.Error = &asyncmqtype.AttemptError{Error: "boom"}
	}
	for _, m := range mods {
		m(&f)
	}
	requireNoError(s.t, s.finish(now, f)[0], "finish job "+j.ID)
}

// complete claims the job (which must be next in "default") and completes it.
func (s *bundle) complete(now time.Time, id string) {
	s.t.Helper()
	s.finishOK(now, s.claimOne(now, id), asyncmqtype.OutcomeCompleted)
}

func (s *bundle) get(id string) *asyncmqtype.JobInfo {
	s.t.Helper()
	j, err := s.b.GetJob(s.ctx, id)
	requireNoError(s.t, err, "get job "+id)
	return j
}

func (s *bundle) requireState(id string, want asyncmqtype.State) *asyncmqtype.JobInfo {
	s.t.Helper()
	j := s.get(id)
	if j.State != want {
		s.t.Fatalf("job %s is %s, want %s", id, j.State, want)
	}
	return j
}

func (s *bundle) requireGone(id string) {
	s.t.Helper()
	_, err := s.b.GetJob(s.ctx, id)
	requireErrorIs(s.t, err, asyncmqtype.ErrJobNotFound, "get job "+id)
}

func (s *bundle) apply(p asyncmqtype.ApplyParams) int {
	s.t.Helper()
	if p.Now.IsZero() {
		p.Now = t0
	}
	n, err := s.b.ApplyJobs(s.ctx, p)
	requireNoError(s.t, err, fmt.Sprintf("apply %s", p.Action))
	return n
}

func (s *bundle) promote(now time.Time) int {
	s.t.Helper()
	n, err := s.b.PromoteDue(s.ctx, backend.PromoteParams{Now: now})
	requireNoError(s.t, err, "promote due jobs")
	return n
}

func (s *bundle) recover(now time.Time, maxStalls int) backend.RecoverResult {
	s.t.Helper()
	res, err := s.b.RecoverStalled(s.ctx, backend.RecoverParams{Now: now, MaxStalls: maxStalls})
	requireNoError(s.t, err, "recover stalled jobs")
	return res
}

func (s *bundle) list(p asyncmqtype.ListJobsParams) asyncmqtype.JobPage {
	s.t.Helper()
	if p.Limit == 0 {
		p.Limit = 1000
	}
	page, err := s.b.ListJobs(s.ctx, p)
	requireNoError(s.t, err, "list jobs")
	return page
}

// counts is a shorthand for the per-state counts a test expects; missing states are 0.
type counts map[asyncmqtype.State]int

// requireCounts checks a queue's counts exactly, and checks that they agree with what the listing
// returns, so a backend that keeps counters cannot drift from its rows.
//
// A store whose counts lag (Counter.CountsLag > 0) gets that long, plus a second of slack, to
// show them; a store with exact counts must show them at once.
func (s *bundle) requireCounts(queue string, want counts) {
	s.t.Helper()
	if lag := s.b.CountsLag(); lag > 0 {
		deadline := time.Now().Add(lag + time.Second)
		for time.Now().Before(deadline) && !s.countsAre(queue, want) {
			time.Sleep(lag / 20)
		}
	}
	q, err := s.b.Queue(s.ctx, queue)
	requireNoError(s.t, err, "get queue "+queue)
	for _, st := range asyncmqtype.States {
		got, ok := q.Counts[st]
		if !ok {
			s.t.Errorf("queue %s: Counts has no entry for %s", queue, st)
		}
		if got != want[st] {
			s.t.Errorf("queue %s: %d %s jobs, want %d", queue, got, st, want[st])
		}
		page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: queue, State: st}, Limit: 1})
		if page.Total != got {
			s.t.Errorf("queue %s: Counts says %d %s jobs, ListJobs Total says %d", queue, got, st, page.Total)
		}
	}
	for st := range want {
		if !st.Valid() {
			s.t.Fatalf("test bug: unknown state %q", st)
		}
	}
	if s.t.Failed() {
		s.t.FailNow()
	}
}

// countsAre reports whether a queue's counts are want, without failing the test.
func (s *bundle) countsAre(queue string, want counts) bool {
	q, err := s.b.Queue(s.ctx, queue)
	if err != nil {
		return false
	}
	for _, st := range asyncmqtype.States {
		if q.Counts[st] != want[st] {
			return false
		}
	}
	return true
}

func (s *bundle) events(after string) []asyncmqtype.Event {
	s.t.Helper()
	evs, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{After: after})
	requireNoError(s.t, err, "read events")
	return evs
}

func (s *bundle) lastCursor() string {
	s.t.Helper()
	c, err := s.b.LastEventCursor(s.ctx)
	requireNoError(s.t, err, "read last event cursor")
	return c
}

func ids(jobs []*asyncmqtype.JobInfo) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func requireNoError(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func requireErrorIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func requireEqual[T any](t *testing.T, got, want T, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func requireTime(t *testing.T, got, want time.Time, what string) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Fatalf("%s: %s is not in UTC", what, got)
	}
}

// requireJSON compares JSON values by meaning, so a store may normalise spacing and key order.
func requireJSON(t *testing.T, got json.RawMessage, want string, what string) {
	t.Helper()
	if len(got) == 0 && want == "" {
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: stored value %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		panic(fmt.Sprintf("test bug: %s: want %q is not JSON", what, want))
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: got %s, want %s", what, got, want)
	}
}

// requireIDs compares lists of IDs in order; nil and empty are the same.
func requireIDs(t *testing.T, got, want []string, what string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func requireRecovered(t *testing.T, got backend.RecoverResult, requeued, failed []string, what string) {
	t.Helper()
	requireIDs(t, got.Requeued, requeued, what+": requeued")
	requireIDs(t, got.Failed, failed, what+": failed")
}

// sorted returns a sorted copy, for comparing sets of IDs.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// requireMentions checks that err's message names s, for errors that must say what failed.
func requireMentions(t *testing.T, err error, s string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), s) {
		t.Fatalf("error %v does not mention %q", err, s)
	}
}
