package sqlite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// TestMatchesMemoryBackend runs random sequences of calls against this backend and the memory
// backend side by side, and requires the same answers and the same stored jobs, queues and
// events from both. The conformance suite checks each rule on its own; this checks that the
// rules compose the same way, with SQL counters, chunked loops and index plans on one side and
// plain maps on the other.
func TestMatchesMemoryBackend(t *testing.T) {
	t.Parallel()
	steps := 400
	if raceEnabled {
		steps = 120
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			m := &model{t: t, s: setup(t), mem: memory.New(), rng: rand.New(rand.NewPCG(seed, 7)), now: t0}
			m.held[0], m.held[1] = map[string]string{}, map[string]string{}
			for step := range steps {
				m.now = m.now.Add(time.Duration(m.rng.IntN(3000)) * time.Millisecond)
				m.step(step)
				m.compareEvents(step)
				m.compareQueues(step)
				if step%20 == 19 {
					m.compareJobs(step)
				}
			}
			m.compareJobs(steps)
			m.s.requireCountersMatchRows()
		})
	}
}

type model struct {
	t   *testing.T
	s   *bundle
	mem *memory.Backend
	rng *rand.Rand
	now time.Time
	ids []string
	// held maps the jobs each backend (0 memory, 1 SQLite) has leased to their tokens.
	held [2]map[string]string
	// seen is the cursor of the last event compareEvents read from each backend.
	seen [2]string
}

var modelQueues = []string{"a", "b", "c"}

func (m *model) backends() [2]backend.Store { return [2]backend.Store{m.mem, m.s.b} }

func (m *model) pick(ss []string) string { return ss[m.rng.IntN(len(ss))] }

// some returns a random subset of ss, in a random order.
func (m *model) some(ss []string, max int) []string {
	c := slices.Clone(ss)
	m.rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c[:min(len(c), m.rng.IntN(max+1))]
}

func (m *model) heldIDs() []string {
	ids := make([]string, 0, len(m.held[0]))
	for id := range m.held[0] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// same fails the test unless both backends gave the same error class.
func (m *model) same(step int, op string, errs [2]error) bool {
	m.t.Helper()
	class := func(err error) error {
		for _, e := range []error{asyncmqtype.ErrJobNotFound, asyncmqtype.ErrJobExists, asyncmqtype.ErrDuplicateJob, asyncmqtype.ErrLeaseLost,
			asyncmqtype.ErrQueueNotFound, asyncmqtype.ErrQueueActive, asyncmqtype.ErrInvalid, asyncmqtype.ErrConflict} {
			if errors.Is(err, e) {
				return e
			}
		}
		return err
	}
	if class(errs[0]) != class(errs[1]) {
		m.t.Fatalf("step %d %s: memory says %v, SQLite says %v", step, op, errs[0], errs[1])
	}
	return errs[0] == nil
}

func (m *model) equal(step int, op string, mem, sql any) {
	m.t.Helper()
	if !reflect.DeepEqual(mem, sql) {
		m.t.Fatalf("step %d %s: memory gives %+v, SQLite gives %+v", step, op, mem, sql)
	}
}

func (m *model) step(step int) {
	ctx := m.s.ctx
	var errs [2]error
	switch op := m.rng.IntN(100); {
	case op < 25:
		var jobs []*asyncmqtype.JobInfo
		for range 1 + m.rng.IntN(4) {
			id := fmt.Sprintf("j%04d", len(m.ids)+len(jobs))
			j := newJob(id, m.pick(modelQueues[:2]))
			j.Priority = m.rng.IntN(3)
			if m.rng.IntN(3) == 0 {
				j.RunAt = m.now.Add(time.Duration(m.rng.IntN(8)) * time.Second)
			}
			if m.rng.IntN(5) == 0 {
				j.UniqueKey = m.pick([]string{"k1", "k2"})
				if m.rng.IntN(2) == 0 {
					j.UniqueUntil = m.now.Add(5 * time.Second)
				}
			}
			if len(m.ids) > 0 && m.rng.IntN(4) == 0 {
				j.DependsOn = m.some(m.ids, 2)
			}
			jobs = append(jobs, j)
		}
		for i, b := range m.backends() {
			// Each backend gets its own copies: a backend must not keep the caller's.
			cp := make([]*asyncmqtype.JobInfo, len(jobs))
			for k, j := range jobs {
				c := *j
				cp[k] = &c
			}
			errs[i] = b.Enqueue(ctx, backend.EnqueueParams{Jobs: cp, Now: m.now})
		}
		if m.same(step, "enqueue", errs) {
			for _, j := range jobs {
				m.ids = append(m.ids, j.ID)
			}
		}
	case op < 45:
		p := backend.ClaimParams{Queue: m.pick(modelQueues), WorkerID: "w", Limit: 1 + m.rng.IntN(4), LeaseDuration: 10 * time.Second, Now: m.now}
		var got [2][]string
		for i, b := range m.backends() {
			jobs, err := b.Claim(ctx, p)
			errs[i] = err
			for _, j := range jobs {
				got[i] = append(got[i], j.ID)
				m.held[i][j.ID] = j.LeaseToken
			}
		}
		if m.same(step, "claim", errs) {
			m.equal(step, "claim", got[0], got[1])
		}
	case op < 65:
		ids := m.some(m.heldIDs(), 4)
		if m.rng.IntN(4) == 0 && len(m.ids) > 0 {
			ids = append(ids, m.pick(m.ids))
		}
		outcomes := []asyncmqtype.Outcome{asyncmqtype.OutcomeCompleted, asyncmqtype.OutcomeRetry, asyncmqtype.OutcomeFailed, asyncmqtype.OutcomeCancelled}
		items := make([]backend.Finish, len(ids))
		for k, id := range ids {
			items[k] = backend.Finish{JobID: id, Outcome: outcomes[m.rng.IntN(len(outcomes))], Duration: time.Duration(m.rng.IntN(100)) * time.Millisecond}
			if items[k].Outcome == asyncmqtype.OutcomeCompleted {
				items[k].Result = []byte(`{"ok":true}`)
			} else {
				items[k].Error = &asyncmqtype.AttemptError{Error: "boom " + id}
			}
			if items[k].Outcome == asyncmqtype.OutcomeRetry && m.rng.IntN(2) == 0 {
				items[k].RetryDelay = time.Duration(m.rng.IntN(5)) * time.Second
			}
		}
		var got [2][]error
		for i, b := range m.backends() {
			its := slices.Clone(items)
			for k := range its {
				its[k].LeaseToken = m.held[i][its[k].JobID]
			}
			got[i], errs[i] = b.Finish(ctx, backend.FinishParams{Items: its, Now: m.now})
		}
		if m.same(step, "finish", errs) {
			for k := range items {
				m.same(step, "finish item "+items[k].JobID, [2]error{got[0][k], got[1][k]})
				delete(m.held[0], items[k].JobID)
				delete(m.held[1], items[k].JobID)
			}
		}
	case op < 70:
		var got [2]backend.HeartbeatResult
		for i, b := range m.backends() {
			var leases []backend.Lease
			for _, id := range m.heldIDs() {
				leases = append(leases, backend.Lease{JobID: id, LeaseToken: m.held[i][id]})
			}
			got[i], errs[i] = b.Heartbeat(ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w"}, Leases: leases, LeaseDuration: 10 * time.Second, Now: m.now})
			slices.Sort(got[i].Lost)
			slices.Sort(got[i].Cancelled)
		}
		if m.same(step, "heartbeat", errs) {
			m.equal(step, "heartbeat", got[0], got[1])
		}
	case op < 73:
		ids := m.some(m.heldIDs(), 2)
		for i, b := range m.backends() {
			var leases []backend.Lease
			for _, id := range ids {
				leases = append(leases, backend.Lease{JobID: id, LeaseToken: m.held[i][id]})
				delete(m.held[i], id)
			}
			errs[i] = b.Release(ctx, backend.ReleaseParams{Leases: leases, Now: m.now})
		}
		m.same(step, "release", errs)
	case op < 78:
		var got [2]int
		p := backend.PromoteParams{Now: m.now, Limit: m.rng.IntN(3)}
		for i, b := range m.backends() {
			got[i], errs[i] = b.PromoteDue(ctx, p)
		}
		if m.same(step, "promote", errs) {
			m.equal(step, "promote", got[0], got[1])
		}
	case op < 82:
		p := backend.RecoverParams{Now: m.now, MaxStalls: m.rng.IntN(2)}
		var got [2]backend.RecoverResult
		for i, b := range m.backends() {
			got[i], errs[i] = b.RecoverStalled(ctx, p)
			slices.Sort(got[i].Requeued)
			slices.Sort(got[i].Failed)
		}
		if m.same(step, "recover", errs) {
			m.equal(step, "recover", got[0], got[1])
		}
	case op < 91:
		actions := []asyncmqtype.Action{asyncmqtype.ActionRetry, asyncmqtype.ActionRemove, asyncmqtype.ActionCancel, asyncmqtype.ActionPromote}
		p := asyncmqtype.ApplyParams{Action: actions[m.rng.IntN(len(actions))], Now: m.now}
		if m.rng.IntN(2) == 0 && len(m.ids) > 0 {
			p.IDs = append(m.some(m.ids, 3), "ghost")
		} else {
			p.Filter.Queue = m.pick(modelQueues)
			if m.rng.IntN(2) == 0 {
				p.Filter.State = asyncmqtype.States[m.rng.IntN(len(asyncmqtype.States))]
			}
		}
		var got [2]int
		for i, b := range m.backends() {
			got[i], errs[i] = b.ApplyJobs(ctx, p)
		}
		if m.same(step, fmt.Sprintf("apply %+v", p), errs) {
			m.equal(step, "apply", got[0], got[1])
		}
	case op < 93:
		q, delayed := m.pick(modelQueues), m.rng.IntN(2) == 0
		var got [2]int
		for i, b := range m.backends() {
			got[i], errs[i] = b.Drain(ctx, q, delayed)
		}
		if m.same(step, "drain", errs) {
			m.equal(step, "drain", got[0], got[1])
		}
	case op < 95:
		p := backend.CleanParams{Queue: m.pick(modelQueues), State: m.pickState([]string{"completed", "failed", "cancelled"}),
			Keep: m.rng.IntN(3), Limit: m.rng.IntN(4)}
		if m.rng.IntN(2) == 0 {
			p.OlderThan = m.now.Add(-time.Duration(m.rng.IntN(20)) * time.Second)
		}
		var got [2]int
		for i, b := range m.backends() {
			got[i], errs[i] = b.Clean(ctx, p)
		}
		if m.same(step, "clean", errs) {
			m.equal(step, "clean", got[0], got[1])
		}
	case op < 98:
		q, paused := m.pick(modelQueues), m.rng.IntN(3) == 0
		for i, b := range m.backends() {
			errs[i] = b.SetQueuePaused(ctx, q, paused)
		}
		m.same(step, "pause", errs)
	case op < 99:
		p := backend.RateLimitParams{Queue: m.pick(modelQueues), Limit: m.rng.IntN(3), Interval: 5 * time.Second}
		for i, b := range m.backends() {
			errs[i] = b.SetRateLimit(ctx, p)
		}
		m.same(step, "rate limit", errs)
	default:
		ids := m.heldIDs()
		if len(ids) == 0 {
			return
		}
		id := m.pick(ids)
		for i, b := range m.backends() {
			errs[i] = b.SetProgress(ctx, backend.ProgressParams{Lease: backend.Lease{JobID: id, LeaseToken: m.held[i][id]}, Progress: []byte(fmt.Sprintf(`{"step":%d}`, step))})
		}
		m.same(step, "progress", errs)
	}
}

// pickState picks one of the named states.
func (m *model) pickState(ss []string) asyncmqtype.State { return asyncmqtype.State(m.pick(ss)) }

func (m *model) compareQueues(step int) {
	var got [2][]asyncmqtype.QueueInfo
	for i, b := range m.backends() {
		qs, err := b.Queues(m.s.ctx)
		if err != nil {
			m.t.Fatal(err)
		}
		got[i] = qs
	}
	m.equal(step, "queues", got[0], got[1])
}

// comparable keeps the fields both backends must agree on: lease tokens are random, and an
// empty list may come back empty or nil.
func comparable(j *asyncmqtype.JobInfo) asyncmqtype.JobInfo {
	c := *j
	c.LeaseToken = ""
	if len(c.DependsOn) == 0 {
		c.DependsOn = nil
	}
	if len(c.Errors) == 0 {
		c.Errors = nil
	}
	return c
}

func (m *model) compareJobs(step int) {
	for _, id := range m.ids {
		var got [2]*asyncmqtype.JobInfo
		var errs [2]error
		for i, b := range m.backends() {
			got[i], errs[i] = b.GetJob(m.s.ctx, id)
		}
		if m.same(step, "get "+id, errs) {
			m.equal(step, "job "+id, comparable(got[0]), comparable(got[1]))
		}
	}
}

// compareEvents compares the events each backend recorded for the last step. Their order
// within one call is not part of the contract, so they are compared as sets; the times of the
// events that use the backend's own clock differ.
func (m *model) compareEvents(step int) {
	type ev struct {
		Type       asyncmqtype.EventType
		Queue, Job string
		State      asyncmqtype.State
		Detail     string
	}
	var got [2][]ev
	for i, b := range m.backends() {
		evs, err := b.Events(m.s.ctx, asyncmqtype.EventsParams{After: m.seen[i]})
		if err != nil {
			m.t.Fatal(err)
		}
		for _, e := range evs {
			got[i] = append(got[i], ev{e.Type, e.Queue, e.JobID, e.State, e.Detail})
			m.seen[i] = e.Cursor
		}
		slices.SortFunc(got[i], func(a, b ev) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	m.equal(step, "events", got[0], got[1])
}
