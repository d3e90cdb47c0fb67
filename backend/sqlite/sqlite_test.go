package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// t0 is a fixed reference time, on a minute, far from the real clock.
var t0 = time.Date(2031, time.March, 4, 5, 6, 0, 0, time.UTC)

type bundle struct {
	t    *testing.T
	ctx  context.Context
	b    *Backend
	path string
}

// setup opens a fresh database in a temporary folder.
func setup(t *testing.T, opts ...Option) *bundle {
	t.Helper()
	path := FreshDB(t)
	b, err := Open(t.Context(), path, append([]Option{ReadConns(2)}, opts...)...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return &bundle{t: t, ctx: t.Context(), b: b, path: path}
}

func newJob(id, queue string) *asyncmqtype.JobInfo {
	return &asyncmqtype.JobInfo{ID: id, Queue: queue, Task: "email.send", Payload: json.RawMessage(`{"n":1}`), Priority: 5}
}

// enqueueN stores n jobs named prefix-00000... in queue, in batches of 500. Options modify
// each job.
func (s *bundle) enqueueN(queue, prefix string, n int, now time.Time, opts ...func(*asyncmqtype.JobInfo)) {
	s.t.Helper()
	for i := 0; i < n; i += 500 {
		var jobs []*asyncmqtype.JobInfo
		for k := i; k < min(n, i+500); k++ {
			j := newJob(fmt.Sprintf("%s-%05d", prefix, k), queue)
			for _, o := range opts {
				o(j)
			}
			jobs = append(jobs, j)
		}
		if err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: jobs, Now: now}); err != nil {
			s.t.Fatalf("enqueue: %v", err)
		}
	}
}

func (s *bundle) claim(now time.Time, limit int, queue string) []*asyncmqtype.JobInfo {
	s.t.Helper()
	jobs, err := s.b.Claim(s.ctx, backend.ClaimParams{Queue: queue, WorkerID: "w1", Limit: limit, LeaseDuration: time.Minute, Now: now})
	if err != nil {
		s.t.Fatalf("claim: %v", err)
	}
	return jobs
}

func (s *bundle) finishAll(now time.Time, jobs []*asyncmqtype.JobInfo, o asyncmqtype.Outcome) {
	s.t.Helper()
	items := make([]backend.Finish, len(jobs))
	for i, j := range jobs {
		items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: o}
		if o != asyncmqtype.OutcomeCompleted {
			items[i].Error = &asyncmqtype.AttemptError{Error: "boom"}
		}
	}
	errs, err := s.b.Finish(s.ctx, backend.FinishParams{Items: items, Now: now})
	if err != nil {
		s.t.Fatalf("finish: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			s.t.Fatalf("finish %s: %v", jobs[i].ID, err)
		}
	}
}

// requireCountersMatchRows checks the counters table against a full count of the jobs table.
func (s *bundle) requireCountersMatchRows() {
	s.t.Helper()
	rows, err := s.b.r.QueryContext(s.ctx, `SELECT q.name, s.value,
	(SELECT count(*) FROM asyncmq_jobs j WHERE j.queue = q.name AND j.state = s.value)
FROM asyncmq_queues q, json_each('["waiting","active","delayed","completed","failed","cancelled"]') s`)
	if err != nil {
		s.t.Fatalf("count jobs: %v", err)
	}
	defer rows.Close()
	want := map[string]map[asyncmqtype.State]int{}
	for rows.Next() {
		var q, st string
		var n int
		if err := rows.Scan(&q, &st, &n); err != nil {
			s.t.Fatal(err)
		}
		if want[q] == nil {
			want[q] = map[asyncmqtype.State]int{}
		}
		want[q][asyncmqtype.State(st)] = n
	}
	qs, err := s.b.Queues(s.ctx)
	if err != nil {
		s.t.Fatalf("queues: %v", err)
	}
	for _, q := range qs {
		for st, n := range want[q.Name] {
			if q.Counts[st] != n {
				s.t.Errorf("queue %s: counter says %d %s jobs, the table holds %d", q.Name, q.Counts[st], st, n)
			}
		}
	}
}

// exec runs a statement on the write connection, for tests that tamper with the store.
func (s *bundle) exec(q string, args ...any) {
	s.t.Helper()
	err := s.b.write(s.ctx, s.b.now(), func(w *wtx) error {
		_, err := w.exec(q, args...)
		return err
	})
	if err != nil {
		s.t.Fatalf("exec %q: %v", q, err)
	}
}

// writerPragma reads a PRAGMA of the write connection.
func (s *bundle) writerPragma(name string) string {
	s.t.Helper()
	var v string
	err := s.b.write(s.ctx, s.b.now(), func(w *wtx) error {
		return w.queryRow("PRAGMA " + name).Scan(&v)
	})
	if err != nil {
		s.t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}
