package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// AppendAudit stores an audit entry and returns it with its ID set, and At set to now when zero.
// Action is required and Status must be "success", "failed" or "denied". Entries are kept until
// deleted by hand: an audit trail is not pruned.
func (b *Backend) AppendAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error) {
	if err := backend.ValidateAudit(e); err != nil {
		return e, err
	}
	if err := b.open(ctx); err != nil {
		return e, fmt.Errorf("append audit entry %q: %w", e.Action, err)
	}
	if e.At.IsZero() {
		e.At = b.now()
	}
	e.At = e.At.UTC()
	err := b.pool.QueryRow(ctx, `INSERT INTO asyncmq_audit (at, actor, action, status, queue, job_id, source, detail, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, at`, e.At, e.Actor, e.Action, e.Status, e.Queue, e.JobID, e.Source, e.Detail, e.Error).Scan(&e.ID, &e.At)
	if err != nil {
		return e, fmt.Errorf("append audit entry %q: %w", e.Action, b.fail(err))
	}
	e.At = e.At.UTC()
	return e, nil
}

// Audit lists audit entries, newest first. Action, Status, Queue and Actor match exactly; Text
// is a substring of any text field, case-insensitive. A zero Limit means all.
func (b *Backend) Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := b.open(ctx); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	conds := []string{"true"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, f := range []struct{ col, v string }{{"action", p.Action}, {"status", p.Status}, {"queue", p.Queue}, {"actor", p.Actor}} {
		if f.v != "" {
			conds = append(conds, f.col+" = "+arg(f.v))
		}
	}
	if p.Text != "" {
		n := arg(strings.ToLower(p.Text))
		var or []string
		for _, col := range []string{"action", "actor", "queue", "job_id", "detail", "error"} {
			or = append(or, "strpos(lower("+col+"), "+n+") > 0")
		}
		conds = append(conds, "("+strings.Join(or, " OR ")+")")
	}
	limit := "ALL"
	if p.Limit > 0 {
		limit = arg(p.Limit)
	}
	rows, err := b.pool.Query(ctx, `SELECT id, at, actor, action, status, queue, job_id, source, detail, error
FROM asyncmq_audit WHERE `+strings.Join(conds, " AND ")+` ORDER BY id DESC LIMIT `+limit+` OFFSET `+arg(p.Offset), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", b.fail(err))
	}
	defer rows.Close()
	out := []asyncmqtype.AuditEntry{}
	for rows.Next() {
		var e asyncmqtype.AuditEntry
		var at time.Time
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Status, &e.Queue, &e.JobID, &e.Source, &e.Detail, &e.Error); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.At = at.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", b.fail(err))
	}
	return out, nil
}
