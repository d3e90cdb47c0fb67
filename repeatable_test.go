package asyncmq

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestValidateCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		wantErr string // substring; empty means valid
	}{
		{expr: "*/5 * * * *"},
		{expr: "0 3 * * 1-5"},
		{expr: "@hourly"},
		{expr: "@daily"},
		{expr: "@every 90s"},
		{expr: "CRON_TZ=Europe/Paris 0 9 * * *"},
		{expr: "", wantErr: "empty"},
		{expr: "* * * *", wantErr: "expected exactly 5 fields"},
		{expr: "61 * * * *", wantErr: "above maximum"},
		{expr: "@every 100ms", wantErr: "shorter than 1s"},
		{expr: "@every soon", wantErr: "needs a duration"},
		{expr: "@fortnightly", wantErr: "unrecognized descriptor"},
		{expr: "TZ=UTC", wantErr: "must be followed by a schedule"},
		{expr: "CRON_TZ=Mars/Olympus * * * * *", wantErr: "bad location"},
		{expr: "0 0 30 2 *", wantErr: "never fires"},
		{expr: "* * * * * *", wantErr: "expected exactly 5 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			err := ValidateCron(tt.expr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateCron(%q) = %v, want nil", tt.expr, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateCron(%q) = nil, want error containing %q", tt.expr, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.expr) {
				t.Errorf("ValidateCron(%q) = %q, want it to name the expression and contain %q", tt.expr, err, tt.wantErr)
			}
			if !errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Errorf("ValidateCron(%q) error does not wrap asyncmqtype.ErrInvalid", tt.expr)
			}
		})
	}
}

func FuzzValidateCron(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "@every 1m", "CRON_TZ=UTC 0 0 * * *", "TZ=", "0-59/0 * * * *", "@every -1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		err := ValidateCron(expr) // must not panic
		if err != nil {
			return
		}
		s, err := parseCron(expr)
		if err != nil {
			t.Fatalf("ValidateCron accepted %q but parseCron refused it: %v", expr, err)
		}
		now := time.Now()
		if next := s.Next(now); !next.After(now) {
			t.Fatalf("accepted %q has next run %v, not after %v", expr, next, now)
		}
	})
}

func TestRepeatableSpecBuild(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 7, 30, 0, time.UTC)
	prio, retries, negative := 0, 0, -1
	tests := []struct {
		name    string
		spec    RepeatableSpec
		check   func(t *testing.T, r asyncmqtype.Repeatable)
		wantErr string
	}{
		{
			name: "cron defaults",
			spec: RepeatableSpec{Task: "report", Cron: "*/15 * * * *"},
			check: func(t *testing.T, r asyncmqtype.Repeatable) {
				if want := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC); !r.NextRun.Equal(want) {
					t.Errorf("NextRun = %v, want %v", r.NextRun, want)
				}
				if r.Queue != DefaultQueue || r.Priority != DefaultPriority || r.MaxRetries != DefaultMaxRetries {
					t.Errorf("queue/priority/retries = %q/%d/%d, want defaults", r.Queue, r.Priority, r.MaxRetries)
				}
				if !strings.HasPrefix(r.ID, "rep-") {
					t.Errorf("derived ID = %q, want rep- prefix", r.ID)
				}
			},
		},
		{
			name: "interval with explicit zero priority and retries",
			spec: RepeatableSpec{Queue: "q", Task: "t", Interval: time.Minute, Priority: &prio, MaxRetries: &retries, Payload: map[string]int{"n": 1}},
			check: func(t *testing.T, r asyncmqtype.Repeatable) {
				if !r.NextRun.Equal(now.Add(time.Minute)) {
					t.Errorf("NextRun = %v, want %v", r.NextRun, now.Add(time.Minute))
				}
				if r.Priority != 0 || r.MaxRetries != 0 {
					t.Errorf("priority/retries = %d/%d, want 0/0", r.Priority, r.MaxRetries)
				}
				if string(r.Payload) != `{"n":1}` {
					t.Errorf("payload = %s", r.Payload)
				}
			},
		},
		{name: "caller ID kept", spec: RepeatableSpec{ID: "nightly", Task: "t", Cron: "@daily"}, check: func(t *testing.T, r asyncmqtype.Repeatable) {
			if r.ID != "nightly" {
				t.Errorf("ID = %q, want nightly", r.ID)
			}
		}},
		{name: "both schedules", spec: RepeatableSpec{Task: "t", Cron: "@daily", Interval: time.Hour}, wantErr: "want exactly one"},
		{name: "no schedule", spec: RepeatableSpec{Task: "t"}, wantErr: "want exactly one"},
		{name: "short interval", spec: RepeatableSpec{Task: "t", Interval: 10 * time.Millisecond}, wantErr: "shorter than 1s"},
		{name: "bad cron", spec: RepeatableSpec{Task: "t", Cron: "every day"}, wantErr: `invalid cron expression "every day"`},
		{name: "no task", spec: RepeatableSpec{Cron: "@daily"}, wantErr: "task name is empty"},
		{name: "bad ID", spec: RepeatableSpec{ID: "a b", Task: "t", Cron: "@daily"}, wantErr: "contains whitespace"},
		{name: "negative retries", spec: RepeatableSpec{Task: "t", Cron: "@daily", MaxRetries: &negative}, wantErr: "must not be negative"},
		{name: "invalid JSON payload", spec: RepeatableSpec{Task: "t", Cron: "@daily", Payload: []byte("{")}, wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tt.spec.build(now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("build() error = %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, asyncmqtype.ErrInvalid) {
					t.Errorf("error %v does not wrap asyncmqtype.ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("build() error = %v", err)
			}
			tt.check(t, r)
		})
	}
}

func TestRepeatableIDStable(t *testing.T) {
	t.Parallel()
	a := repeatableID("q", "t", "@daily", 0)
	if b := repeatableID("q", "t", "@daily", 0); a != b {
		t.Errorf("same spec gave IDs %q and %q", a, b)
	}
	if b := repeatableID("q", "t", "@hourly", 0); a == b {
		t.Errorf("different schedules share ID %q", a)
	}
	if b := repeatableID("q2", "t", "@daily", 0); a == b {
		t.Errorf("different queues share ID %q", a)
	}
}

func TestNextRunKeepsIntervalPhase(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := asyncmqtype.Repeatable{Interval: time.Minute, NextRun: base}
	tests := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"fired on time", base, base.Add(time.Minute)},
		{"fired late", base.Add(1500 * time.Millisecond), base.Add(time.Minute)},
		{"missed runs are skipped", base.Add(3*time.Minute + time.Second), base.Add(4 * time.Minute)},
		{"exactly on a later run", base.Add(2 * time.Minute), base.Add(3 * time.Minute)},
		{"not yet due", base.Add(-time.Hour), base.Add(-time.Hour + time.Minute)},
	}
	for _, tt := range tests {
		got, err := nextRun(r, tt.now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%s: nextRun = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestInspectorCreateRepeatable(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx := context.Background()
	insp := NewInspector(tb.b)
	spec := RepeatableSpec{Queue: "reports", Task: "report.daily", Cron: "0 6 * * *", Payload: map[string]string{"fmt": "pdf"}}
	first, err := insp.CreateRepeatable(ctx, spec)
	if err != nil {
		t.Fatalf("CreateRepeatable: %v", err)
	}
	// Every replica of an application creating the same spec at start-up makes one definition.
	if second, err := insp.CreateRepeatable(ctx, spec); err != nil || second.ID != first.ID {
		t.Fatalf("second CreateRepeatable = %q, %v; want the same ID %q", second.ID, err, first.ID)
	}
	rs, err := insp.Repeatables(ctx, "reports")
	if err != nil || len(rs) != 1 {
		t.Fatalf("Repeatables = %+v, %v; want one definition", rs, err)
	}
	got := rs[0]
	if got.ID != first.ID || got.Cron != "0 6 * * *" || string(got.Payload) != `{"fmt":"pdf"}` || got.NextRun.Hour() != 6 || !got.NextRun.After(time.Now()) {
		t.Errorf("stored definition = %+v", got)
	}

	_, err = insp.CreateRepeatable(ctx, RepeatableSpec{Task: "x", Cron: "every monday"})
	if !errors.Is(err, asyncmqtype.ErrInvalid) || !strings.Contains(err.Error(), `create repeatable of task "x": invalid cron expression "every monday"`) {
		t.Errorf("invalid spec error = %v", err)
	}
}
