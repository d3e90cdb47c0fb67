package backendtest

import (
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func testAudit(t *testing.T, newBackend factory) {
	entries := []asyncmqtype.AuditEntry{
		{At: at(1 * time.Second), Actor: "alice", Action: "queue.pause", Status: "success", Queue: "emails", Source: "queues.detail"},
		{At: at(2 * time.Second), Actor: "bob", Action: "job.retry", Status: "failed", Queue: "emails", JobID: "job-42", Error: "Lease LOST"},
		{At: at(3 * time.Second), Actor: "alice", Action: "job.retry", Status: "success", Queue: "reports", JobID: "job-7", Detail: "retried 3"},
		{At: at(4 * time.Second), Actor: "mallory", Action: "queue.obliterate", Status: "denied", Queue: "emails"},
	}
	record := func(s *bundle) []asyncmqtype.AuditEntry {
		s.t.Helper()
		var out []asyncmqtype.AuditEntry
		for _, e := range entries {
			got, err := s.b.AppendAudit(s.ctx, e)
			requireNoError(s.t, err, "append audit entry")
			out = append(out, got)
		}
		return out
	}
	auditIDs := func(es []asyncmqtype.AuditEntry) []int64 {
		out := make([]int64, len(es))
		for i, e := range es {
			out[i] = e.ID
		}
		return out
	}

	t.Run("Append", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		got := record(s)
		for i := 1; i < len(got); i++ {
			if got[i].ID <= got[i-1].ID {
				t.Fatalf("entry %d has ID %d after ID %d", i, got[i].ID, got[i-1].ID)
			}
		}
		requireTime(t, got[1].At, at(2*time.Second), "At")
		listed, err := s.b.Audit(s.ctx, asyncmqtype.AuditParams{Limit: 1, Offset: 2})
		requireNoError(t, err, "list")
		requireEqual(t, len(listed), 1, "listed")
		l := listed[0]
		requireTime(t, l.At, at(2*time.Second), "listed At")
		l.At, got[1].At = time.Time{}, time.Time{}
		requireEqual(t, l, got[1], "listed entry")

		e, err := s.b.AppendAudit(s.ctx, asyncmqtype.AuditEntry{Actor: "carol", Action: "job.remove", Status: "success"})
		requireNoError(t, err, "append without a time")
		if e.At.IsZero() || e.At.Location() != time.UTC {
			t.Fatalf("At = %s, want the backend clock in UTC", e.At)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		ids := auditIDs(record(s))
		tests := []struct {
			name string
			p    asyncmqtype.AuditParams
			want []int64
		}{
			{"all, newest first", asyncmqtype.AuditParams{}, []int64{ids[3], ids[2], ids[1], ids[0]}},
			{"action", asyncmqtype.AuditParams{Action: "job.retry"}, []int64{ids[2], ids[1]}},
			{"status", asyncmqtype.AuditParams{Status: "success"}, []int64{ids[2], ids[0]}},
			{"queue", asyncmqtype.AuditParams{Queue: "emails"}, []int64{ids[3], ids[1], ids[0]}},
			{"actor", asyncmqtype.AuditParams{Actor: "alice"}, []int64{ids[2], ids[0]}},
			{"actor is exact", asyncmqtype.AuditParams{Actor: "ali"}, nil},
			{"text in error, any case", asyncmqtype.AuditParams{Text: "lease lost"}, []int64{ids[1]}},
			{"text in job ID", asyncmqtype.AuditParams{Text: "JOB-7"}, []int64{ids[2]}},
			{"text in detail", asyncmqtype.AuditParams{Text: "retried"}, []int64{ids[2]}},
			{"text in actor and action", asyncmqtype.AuditParams{Text: "obliterate"}, []int64{ids[3]}},
			{"text in queue", asyncmqtype.AuditParams{Text: "REPORTS"}, []int64{ids[2]}},
			{"combined", asyncmqtype.AuditParams{Queue: "emails", Status: "failed"}, []int64{ids[1]}},
			{"limit", asyncmqtype.AuditParams{Limit: 2}, []int64{ids[3], ids[2]}},
			{"offset", asyncmqtype.AuditParams{Limit: 2, Offset: 3}, []int64{ids[0]}},
			{"filtered offset", asyncmqtype.AuditParams{Queue: "emails", Offset: 1}, []int64{ids[1], ids[0]}},
		}
		for _, tt := range tests {
			got, err := s.b.Audit(s.ctx, tt.p)
			requireNoError(t, err, tt.name)
			if g := auditIDs(got); len(g) != 0 || len(tt.want) != 0 {
				requireEqual(t, g, tt.want, tt.name)
			}
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for name, e := range map[string]asyncmqtype.AuditEntry{
			"no action":      {Status: "success"},
			"no status":      {Action: "job.retry"},
			"unknown status": {Action: "job.retry", Status: "ok"},
		} {
			_, err := s.b.AppendAudit(s.ctx, e)
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, name)
		}
		for name, p := range map[string]asyncmqtype.AuditParams{
			"negative limit":  {Limit: -1},
			"negative offset": {Offset: -1},
		} {
			_, err := s.b.Audit(s.ctx, p)
			requireErrorIs(t, err, asyncmqtype.ErrInvalid, name)
		}
		got, err := s.b.Audit(s.ctx, asyncmqtype.AuditParams{})
		requireNoError(t, err, "list")
		requireEqual(t, len(got), 0, "entries after invalid appends")
	})
}
