package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

func TestEventLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := memory.New(memory.WithEventLimit(3))
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		err := b.Enqueue(ctx, backend.EnqueueParams{Now: now, Jobs: []*asyncmqtype.JobInfo{{ID: fmt.Sprintf("j%d", i), Queue: "q", Task: "t"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		after string
		want  []string
	}{
		{"", []string{"3", "4", "5"}}, // 1 and 2 were dropped
		{"1", []string{"3", "4", "5"}},
		{"3", []string{"4", "5"}},
		{"5", nil},
		{"99", nil},
	}
	for _, tt := range tests {
		evs, err := b.Events(ctx, asyncmqtype.EventsParams{After: tt.after})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Cursor)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("events after %q: got cursors %v, want %v", tt.after, got, tt.want)
		}
	}
	if c, _ := b.LastEventCursor(ctx); c != "5" {
		t.Errorf("LastEventCursor = %q, want 5", c)
	}
}

func TestAuditLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := memory.New(memory.WithAuditLimit(2))
	for _, a := range []string{"first", "second", "third"} {
		if _, err := b.AppendAudit(ctx, asyncmqtype.AuditEntry{Action: a, Status: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := b.Audit(ctx, asyncmqtype.AuditParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Action != "third" || es[1].Action != "second" || es[0].ID != 3 {
		t.Fatalf("audit = %+v, want third (ID 3) then second", es)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	zone := time.FixedZone("UTC+2", 2*60*60)
	clock := time.Date(2031, 6, 1, 12, 0, 0, 0, zone)
	b := memory.New(memory.WithClock(func() time.Time { return clock }))
	if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{{ID: "a", Queue: "q", Task: "t"}}}); err != nil {
		t.Fatal(err)
	}
	j, err := b.GetJob(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !j.CreatedAt.Equal(clock) || j.CreatedAt.Location() != time.UTC || !j.RunAt.Equal(clock) {
		t.Fatalf("CreatedAt %s, RunAt %s, want %s in UTC", j.CreatedAt, j.RunAt, clock.UTC())
	}
}
