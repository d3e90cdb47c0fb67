package memory

import (
	"context"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// AppendAudit stores an audit entry and returns it with its ID and time set. Only the newest
// WithAuditLimit entries are kept.
func (b *Backend) AppendAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error) {
	if err := backend.ValidateAudit(e); err != nil {
		return e, err
	}
	if err := b.lock(ctx, "append audit entry "+e.Action); err != nil {
		return e, err
	}
	defer b.mu.Unlock()
	b.lastAuditID++
	e.ID = b.lastAuditID
	e.At = b.timeOr(e.At)
	b.audit.push(e)
	return e, nil
}

// Audit lists audit entries, newest first, filtered; see backend.Store.
func (b *Backend) Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := b.lock(ctx, "list audit entries"); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	text := strings.ToLower(p.Text)
	out := []asyncmqtype.AuditEntry{}
	skip := p.Offset
	for i := b.audit.len() - 1; i >= 0 && (p.Limit == 0 || len(out) < p.Limit); i-- {
		e := b.audit.at(i)
		if (p.Action != "" && e.Action != p.Action) || (p.Status != "" && e.Status != p.Status) ||
			(p.Queue != "" && e.Queue != p.Queue) || (p.Actor != "" && e.Actor != p.Actor) ||
			(text != "" && !auditContains(e, text)) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func auditContains(e asyncmqtype.AuditEntry, lower string) bool {
	for _, f := range []string{e.Action, e.Actor, e.Queue, e.JobID, e.Detail, e.Error} {
		if strings.Contains(strings.ToLower(f), lower) {
			return true
		}
	}
	return false
}
