package asyncmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

func TestEnqueueStoresOptions(t *testing.T) {
	t.Parallel()
	runAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	tests := []struct {
		name    string
		payload any
		opts    []EnqueueOption
		check   func(t *testing.T, j *asyncmqtype.JobInfo)
	}{
		{
			name:    "defaults",
			payload: map[string]string{"to": "a@example.com"},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if j.Queue != DefaultQueue || j.Priority != DefaultPriority || j.MaxRetries != DefaultMaxRetries {
					t.Errorf("queue/priority/retries = %q/%d/%d, want %q/%d/%d", j.Queue, j.Priority, j.MaxRetries, DefaultQueue, DefaultPriority, DefaultMaxRetries)
				}
				if j.State != asyncmqtype.StateWaiting {
					t.Errorf("state = %s, want waiting", j.State)
				}
				if string(j.Payload) != `{"to":"a@example.com"}` {
					t.Errorf("payload = %s", j.Payload)
				}
				if len(j.ID) != 36 {
					t.Errorf("generated ID %q is not a UUID", j.ID)
				}
			},
		},
		{
			name: "queue priority retries timeout backoff",
			opts: []EnqueueOption{Queue("critical"), Priority(1), MaxRetries(10), Timeout(time.Minute), ExponentialBackoff(2*time.Second, time.Minute)},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if j.Queue != "critical" || j.Priority != 1 || j.MaxRetries != 10 || j.Timeout != time.Minute {
					t.Errorf("got queue %q priority %d retries %d timeout %s", j.Queue, j.Priority, j.MaxRetries, j.Timeout)
				}
				want := asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Base: 2 * time.Second, Max: time.Minute, Jitter: DefaultBackoffJitter}
				if j.Backoff != want {
					t.Errorf("backoff = %+v, want %+v", j.Backoff, want)
				}
				if j.Payload != nil {
					t.Errorf("nil payload stored as %s", j.Payload)
				}
			},
		},
		{
			name: "delay makes it delayed",
			opts: []EnqueueOption{Delay(time.Hour)},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if j.State != asyncmqtype.StateDelayed {
					t.Errorf("state = %s, want delayed", j.State)
				}
				if d := time.Until(j.RunAt); d < 59*time.Minute || d > time.Hour {
					t.Errorf("run at %v is %s away, want about 1h", j.RunAt, d)
				}
			},
		},
		{
			name: "run at, later option wins",
			opts: []EnqueueOption{Delay(time.Minute), RunAt(runAt)},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if !j.RunAt.Equal(runAt) || j.State != asyncmqtype.StateDelayed {
					t.Errorf("run at %v state %s, want %v delayed", j.RunAt, j.State, runAt)
				}
			},
		},
		{
			name: "run at in the past runs now",
			opts: []EnqueueOption{RunAt(time.Now().Add(-time.Hour))},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if j.State != asyncmqtype.StateWaiting {
					t.Errorf("state = %s, want waiting", j.State)
				}
			},
		},
		{
			name:    "raw JSON kept as is",
			payload: json.RawMessage(`{"b":1, "a":2}`),
			opts:    []EnqueueOption{JobID("order-42"), FixedBackoff(time.Second)},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if string(j.Payload) != `{"b":1, "a":2}` || j.ID != "order-42" {
					t.Errorf("payload %s id %q", j.Payload, j.ID)
				}
				if j.Backoff != (asyncmqtype.Backoff{Kind: asyncmqtype.BackoffFixed, Base: time.Second}) {
					t.Errorf("backoff = %+v", j.Backoff)
				}
			},
		},
		{
			name: "unique",
			opts: []EnqueueOption{Unique("user-7", time.Minute)},
			check: func(t *testing.T, j *asyncmqtype.JobInfo) {
				if j.UniqueKey != "user-7" || time.Until(j.UniqueUntil) < 59*time.Second {
					t.Errorf("unique key %q until %v", j.UniqueKey, j.UniqueUntil)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			j := tb.enqueue(t, "email.send", tt.payload, tt.opts...)
			stored := tb.job(t, j.ID)
			if stored.Task != "email.send" {
				t.Errorf("task = %q", stored.Task)
			}
			tt.check(t, stored)
		})
	}
}

func TestEnqueueErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		task    string
		payload any
		opts    []EnqueueOption
		client  []ClientOption
		prepare func(t *testing.T, tb *testBundle)
		wantIs  error
		wantMsg string
	}{
		{name: "empty task", task: "", wantIs: asyncmqtype.ErrInvalid, wantMsg: "task name is empty"},
		{name: "task with space", task: "send email", wantIs: asyncmqtype.ErrInvalid, wantMsg: "contains whitespace"},
		{name: "bad queue", task: "t", opts: []EnqueueOption{Queue("a\x00b")}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "non-printable"},
		{name: "negative delay", task: "t", opts: []EnqueueOption{Delay(-time.Second)}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "Delay(-1s)"},
		{name: "negative retries", task: "t", opts: []EnqueueOption{MaxRetries(-1)}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "MaxRetries(-1)"},
		{name: "priority out of range", task: "t", opts: []EnqueueOption{Priority(1 << 40)}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "Priority(1099511627776): priority 1099511627776 is outside -1000000..1000000"},
		{name: "run at after 2262", task: "t", opts: []EnqueueOption{RunAt(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "run at 2300-01-01T00:00:00Z is outside the storable range"},
		{name: "negative timeout", task: "t", opts: []EnqueueOption{Timeout(-1)}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "Timeout"},
		{name: "backoff base above max", task: "t", opts: []EnqueueOption{ExponentialBackoff(time.Hour, time.Second)}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "larger than max"},
		{name: "backoff unknown kind", task: "t", opts: []EnqueueOption{Backoff(asyncmqtype.Backoff{Kind: "linear"})}, wantIs: asyncmqtype.ErrInvalid, wantMsg: `unknown kind "linear"`},
		{name: "long job ID", task: "t", opts: []EnqueueOption{JobID(strings.Repeat("x", 129))}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "longer than 128"},
		{name: "unique without ttl", task: "t", opts: []EnqueueOption{Unique("k", 0)}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "ttl must be positive"},
		{name: "depends on itself", task: "t", opts: []EnqueueOption{JobID("a"), DependsOn("a")}, wantIs: asyncmqtype.ErrInvalid, wantMsg: "depends on itself"},
		{name: "invalid raw JSON", task: "t", payload: []byte(`{"a":`), wantIs: asyncmqtype.ErrInvalid, wantMsg: "not valid JSON"},
		{name: "unencodable payload", task: "t", payload: make(chan int), wantMsg: "encode payload chan int as JSON"},
		{
			name: "payload too large", task: "t", payload: strings.Repeat("x", 100),
			client: []ClientOption{MaxPayloadBytes(64)}, wantIs: ErrPayloadTooLarge, wantMsg: "payload is 102 bytes, limit 64",
		},
		{
			name: "default limit is 1 MiB", task: "t", payload: json.RawMessage(`"` + strings.Repeat("x", 1<<20) + `"`),
			wantIs: ErrPayloadTooLarge, wantMsg: "limit 1048576",
		},
		{
			name: "unknown task", task: "email.sned", client: []ClientOption{KnownTasks("email.send", "report")},
			wantIs: ErrUnknownTask, wantMsg: `task "email.sned" is not one of the client's KnownTasks ("email.send", "report")`,
		},
		{
			name: "duplicate unique key", task: "t", opts: []EnqueueOption{Unique("k", time.Minute)},
			prepare: func(t *testing.T, tb *testBundle) { tb.enqueue(t, "t", nil, Unique("k", time.Minute)) },
			wantIs:  ErrDuplicateJob, wantMsg: "unique",
		},
		{
			name: "job ID taken", task: "t", opts: []EnqueueOption{JobID("order-1")},
			prepare: func(t *testing.T, tb *testBundle) { tb.enqueue(t, "t", nil, JobID("order-1")) },
			wantIs:  ErrJobExists, wantMsg: `enqueue job "order-1" of task "t"`,
		},
		{name: "missing parent", task: "t", opts: []EnqueueOption{DependsOn("nope")}, wantIs: asyncmqtype.ErrJobNotFound, wantMsg: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			if tt.prepare != nil {
				tt.prepare(t, tb)
			}
			before := queueTotal(t, tb.b)
			_, err := NewClient(tb.b, tt.client...).Enqueue(context.Background(), tt.task, tt.payload, tt.opts...)
			if err == nil {
				t.Fatal("Enqueue succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if after := queueTotal(t, tb.b); after != before {
				t.Errorf("store holds %d jobs after a failed enqueue, want %d", after, before)
			}
		})
	}
}

func queueTotal(t *testing.T, b Store) int {
	t.Helper()
	qs, err := b.Queues(context.Background())
	if err != nil {
		t.Fatalf("Queues: %v", err)
	}
	n := 0
	for _, q := range qs {
		n += q.Total()
	}
	return n
}

func TestEnqueueManyAllOrNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reqs    []Request
		wantErr string
	}{
		{
			name:    "invalid request names its index",
			reqs:    []Request{{Task: "a"}, {Task: "b", Options: []EnqueueOption{MaxRetries(-2)}}},
			wantErr: `job 1 of task "b"`,
		},
		{
			name:    "backend refuses a duplicate ID",
			reqs:    []Request{{Task: "a", Options: []EnqueueOption{JobID("x")}}, {Task: "b", Options: []EnqueueOption{JobID("x")}}},
			wantErr: "already exists",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			if _, err := tb.client.EnqueueMany(context.Background(), tt.reqs); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("EnqueueMany error = %v, want one containing %q", err, tt.wantErr)
			}
			if n := queueTotal(t, tb.b); n != 0 {
				t.Errorf("store holds %d jobs after a failed EnqueueMany, want 0", n)
			}
		})
	}

	t.Run("a parent named twice is waited for once", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		p := tb.enqueue(t, "parent", nil)
		c := tb.enqueue(t, "child", nil, DependsOn(p.ID), DependsOn(p.ID))
		if got := tb.job(t, c.ID); len(got.DependsOn) != 1 || got.PendingDeps != 1 {
			t.Errorf("depends on %v with %d pending, want one parent", got.DependsOn, got.PendingDeps)
		}
	})

	t.Run("parent and child in one call", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		jobs, err := tb.client.EnqueueMany(context.Background(), []Request{
			{Task: "parent", Options: []EnqueueOption{JobID("p")}},
			{Task: "child", Payload: 7, Options: []EnqueueOption{DependsOn("p")}},
		})
		if err != nil {
			t.Fatalf("EnqueueMany: %v", err)
		}
		if len(jobs) != 2 || jobs[0].ID != "p" || jobs[1].Task != "child" {
			t.Fatalf("jobs = %+v", jobs)
		}
		child := tb.job(t, jobs[1].ID)
		if child.PendingDeps != 1 || string(child.Payload) != "7" {
			t.Errorf("child pending deps %d payload %s, want 1 and 7", child.PendingDeps, child.Payload)
		}
	})
}

func TestNewIDIsTimeOrderedAndUnique(t *testing.T) {
	t.Parallel()
	const n = 20000
	seen := make(map[string]bool, n)
	prev := ""
	for range n {
		id := NewID()
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("ID %q is not a UUIDv7", id)
		}
		if id <= prev {
			t.Fatalf("ID %q does not sort after the previous %q", id, prev)
		}
		if seen[id] {
			t.Fatalf("duplicate ID %q", id)
		}
		seen[id] = true
		prev = id
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		b        asyncmqtype.Backoff
		attempt  int
		min, max time.Duration
	}{
		{"default first", asyncmqtype.Backoff{}, 1, 800 * time.Millisecond, time.Second},
		{"default third", asyncmqtype.Backoff{}, 3, 3200 * time.Millisecond, 4 * time.Second},
		{"default capped", asyncmqtype.Backoff{}, 40, 48 * time.Minute, time.Hour},
		{"exponential no jitter", asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Base: time.Second, Max: 10 * time.Second}, 4, 8 * time.Second, 8 * time.Second},
		{"exponential cap", asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Base: time.Second, Max: 10 * time.Second}, 5, 10 * time.Second, 10 * time.Second},
		{"exponential huge attempt", asyncmqtype.Backoff{Kind: asyncmqtype.BackoffExponential, Base: time.Hour, Max: 1 << 62}, 1000, 1 << 62, 1 << 62},
		{"fixed", asyncmqtype.Backoff{Kind: asyncmqtype.BackoffFixed, Base: 3 * time.Second}, 9, 3 * time.Second, 3 * time.Second},
		{"fixed zero", asyncmqtype.Backoff{Kind: asyncmqtype.BackoffFixed}, 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 50 {
				if d := retryDelay(tt.b, tt.attempt); d < tt.min || d > tt.max {
					t.Fatalf("retryDelay(%+v, %d) = %s, want within [%s, %s]", tt.b, tt.attempt, d, tt.min, tt.max)
				}
			}
		})
	}
}

func FuzzEnqueuePayload(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2]`, `"x"`, `{"a":`, "\xff", `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := encodePayload(raw, 1<<10)
		if err != nil {
			return
		}
		if len(raw) > 0 && !json.Valid(got) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		if len(got) > 1<<10 {
			t.Fatalf("accepted %d bytes over the limit", len(got))
		}
	})
}

// paramsRecorder keeps the EnqueueParams each Enqueue gets.
type paramsRecorder struct {
	Store
	got []backend.EnqueueParams
}

func (r *paramsRecorder) Enqueue(ctx context.Context, p backend.EnqueueParams) error {
	r.got = append(r.got, p)
	return r.Store.Enqueue(ctx, p)
}

// EnqueueMany tells the store which IDs it made: FreshIDs when it made them all, and Fresh per
// job when the call mixes them with IDs requests chose, so that a store checks only the chosen.
func TestEnqueueManySaysWhichIDsItMade(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		chosen    []int // requests with a JobID, of 4
		wantFresh bool
		wantEach  []bool
	}{
		{"all made", nil, true, nil},
		{"all chosen", []int{0, 1, 2, 3}, false, nil},
		{"first chosen", []int{0}, false, []bool{false, true, true, true}},
		{"last chosen", []int{3}, false, []bool{true, true, true, false}},
		{"two in the middle", []int{1, 2}, false, []bool{true, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &paramsRecorder{Store: memory.New()}
			reqs := make([]Request, 4)
			for i := range reqs {
				reqs[i] = Request{Task: "t"}
			}
			for _, i := range tt.chosen {
				reqs[i].Options = []EnqueueOption{JobID(fmt.Sprint("chosen-", i))}
			}
			if _, err := NewClient(rec).EnqueueMany(context.Background(), reqs); err != nil {
				t.Fatal(err)
			}
			if len(rec.got) != 1 {
				t.Fatalf("%d Enqueue calls, want 1", len(rec.got))
			}
			p := rec.got[0]
			if p.FreshIDs != tt.wantFresh || !slices.Equal(p.Fresh, tt.wantEach) {
				t.Errorf("FreshIDs %v, Fresh %v; want %v, %v", p.FreshIDs, p.Fresh, tt.wantFresh, tt.wantEach)
			}
		})
	}
}
