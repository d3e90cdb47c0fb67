package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// AppendAudit stores an audit entry and returns it with its ID set, and At set to now when zero.
// Action is required and Status must be "success", "failed" or "denied". Entries are kept until
// the database is deleted: an audit trail is not pruned.
func (b *Backend) AppendAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error) {
	if err := backend.ValidateAudit(e); err != nil {
		return e, err
	}
	err := b.write(ctx, b.now(), func(w *wtx) error {
		if e.At.IsZero() {
			e.At = w.now
		}
		e.At = e.At.UTC()
		res, err := w.exec(`INSERT INTO asyncmq_audit (at, actor, action, status, queue, job_id, source, detail, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, nanoInt(e.At), e.Actor, e.Action, e.Status, e.Queue, e.JobID, e.Source, e.Detail, e.Error)
		if err != nil {
			return err
		}
		e.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return e, fmt.Errorf("append audit entry %q: %w", e.Action, err)
	}
	return e, nil
}

// Audit lists audit entries, newest first. Action, Status, Queue and Actor match exactly; Text
// is a substring of any text field, folding the case of ASCII letters. A zero Limit means all.
func (b *Backend) Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("list audit entries: %w", asyncmqtype.ErrClosed)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Limit == 0 {
		p.Limit = -1 // SQLite's LIMIT -1 is no limit.
	}
	conds := []string{"1"}
	var args []any
	for _, f := range []struct{ col, v string }{{"action", p.Action}, {"status", p.Status}, {"queue", p.Queue}, {"actor", p.Actor}} {
		if f.v != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if p.Text != "" {
		var or []string
		for _, col := range []string{"action", "actor", "queue", "job_id", "detail", "error"} {
			or = append(or, "instr(lower("+col+"), lower(?)) > 0")
			args = append(args, p.Text)
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	rows, err := b.query(ctx, `SELECT id, at, actor, action, status, queue, job_id, source, detail, error
FROM asyncmq_audit WHERE `+strings.Join(conds, " AND ")+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, p.Limit, p.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.AuditEntry{}
	for rows.Next() {
		var e asyncmqtype.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Status, &e.Queue, &e.JobID, &e.Source, &e.Detail, &e.Error); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", b.fail(err))
	}
	return out, nil
}
