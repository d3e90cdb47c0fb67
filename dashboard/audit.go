package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Audit statuses.
const (
	auditSuccess = "success"
	auditFailed  = "failed"
	auditDenied  = "denied"
)

// change describes one audited action a handler is about to perform.
type change struct {
	// Action is the audit action name ("job.retry"); it decides the role needed.
	Action string
	// Source is the page or form it came from ("jobs.single", "dlq.bulk").
	Source string
	Queue  string
	JobID  string
	Detail string
	// Back is where the browser returns afterwards when the form names no return_to.
	Back string
	// Gone says the change removes what the current page shows, so an htmx caller must
	// navigate to Back instead of refreshing in place.
	Gone bool
	// Here is the page the form was on, where a refused change is explained; default Back.
	Here string
	// Count, when set, is filled by the change with how many jobs it affected, and a JSON
	// answer reports it.
	Count *int
}

// perform is the one path every change takes: role check, the change itself, an audit entry
// whatever the outcome, and an answer in the caller's mode (303 + flash, htmx fragment, JSON).
// fn returns the success message shown to the user.
func (d *Dashboard) perform(w http.ResponseWriter, r *http.Request, c change, fn func(ctx context.Context) (string, error)) error {
	ctx := r.Context()
	back := c.Back
	if rt := r.PostFormValue("return_to"); rt != "" {
		back = admin.SafeRedirect(r, rt)
	}
	if d.roleOf(r) < requiredRole(c.Action) {
		d.audit(ctx, r, c, auditDenied, "role "+d.roleOf(r).String()+" may not "+c.Action)
		return &httpError{http.StatusForbidden, fmt.Sprintf("Your role (%s) does not allow %s.", d.roleOf(r), c.Action)}
	}
	msg, err := fn(ctx)
	// Whatever the outcome, the store may have changed: the overview must not show the past,
	// nor the event history, nor the counts the live updates send.
	d.dropSnapshots()
	d.hub.refreshCounts(context.WithoutCancel(ctx))
	if err != nil {
		if ctx.Err() != nil {
			// The client went away mid-change; record what the store may or may not have done.
			ctx = context.WithoutCancel(ctx)
		}
		d.audit(ctx, r, c, auditFailed, d.redact.Text(err.Error()))
		status, text := classify(err)
		if status >= 500 || wantsJSON(r) || isHTMX(r) {
			return err
		}
		// A refused change (wrong state, not found any more) is not a broken page: say why on
		// the page the user came from.
		if c.Here != "" && r.PostFormValue("return_to") == "" {
			back = c.Here
		}
		d.setFlash(w, r, flash{Level: "error", Text: text})
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	d.audit(ctx, r, c, auditSuccess, "")
	switch {
	case wantsJSON(r):
		resp := map[string]any{"ok": true, "message": msg}
		if c.Count != nil {
			resp["count"] = *c.Count
		}
		return writeJSON(w, http.StatusOK, resp)
	case isHTMX(r) && c.Gone:
		d.setFlash(w, r, flash{Level: "success", Text: msg})
		w.Header().Set("HX-Redirect", back)
		w.WriteHeader(http.StatusOK)
		return nil
	case isHTMX(r):
		return d.renderFlash(w, http.StatusOK, &flash{Level: "success", Text: msg})
	}
	d.setFlash(w, r, flash{Level: "success", Text: msg})
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// Caps on audit fields. The request chooses much of what an entry holds (the queue name in the
// path, a repeatable's ID in the form), and refused requests are audited too, so without caps
// anyone allowed to view could fill the log with large entries about queues that do not exist.
const (
	// MaxAuditNameBytes caps the actor, action, status, queue, job ID and source of an audit
	// entry. Real names are shorter: queue names and job IDs at most asyncmq.MaxIDLength, user
	// IDs 255 bytes.
	MaxAuditNameBytes = 256
	// MaxAuditTextBytes caps an audit entry's detail and error text.
	MaxAuditTextBytes = 1024
)

// auditClip cuts s to at most n bytes on a rune boundary, marking a cut with "…".
func auditClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeCut(s, n-len("…"))] + "…"
}

// audit records an entry, each field cut to MaxAuditNameBytes or MaxAuditTextBytes; a failure
// to record is logged, never shown, since the change itself has already happened (or been
// refused).
func (d *Dashboard) audit(ctx context.Context, r *http.Request, c change, status, errText string) {
	_, err := d.insp.RecordAudit(ctx, asyncmqtype.AuditEntry{
		Actor:  auditClip(actor(r), MaxAuditNameBytes),
		Action: auditClip(c.Action, MaxAuditNameBytes),
		Status: auditClip(status, MaxAuditNameBytes),
		Queue:  auditClip(c.Queue, MaxAuditNameBytes),
		JobID:  auditClip(c.JobID, MaxAuditNameBytes),
		Source: auditClip(c.Source, MaxAuditNameBytes),
		Detail: auditClip(c.Detail, MaxAuditTextBytes),
		Error:  auditClip(errText, MaxAuditTextBytes),
	})
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard could not record audit entry", "action", c.Action, "status", status, "err", err)
	}
}

type auditFilter struct {
	Action, Status, Queue, Actor, Text string
}

type auditData struct {
	Filter  auditFilter
	Entries []asyncmqtype.AuditEntry
	Pager   pager
	Actions []string
}

func (d *Dashboard) auditList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := auditFilter{
		Action: strings.TrimSpace(q.Get("action")),
		Status: strings.TrimSpace(q.Get("status")),
		Queue:  strings.TrimSpace(q.Get("queue")),
		Actor:  strings.TrimSpace(q.Get("actor")),
		Text:   strings.TrimSpace(q.Get("q")),
	}
	if err := checkFilters("action", f.Action, "queue", f.Queue, "actor", f.Actor, "q", f.Text); err != nil {
		return err
	}
	switch f.Status {
	case "", auditSuccess, auditFailed, auditDenied:
	default:
		return badRequest("Unknown audit status %q: use success, failed or denied.", f.Status)
	}
	pg := newPager(q, publicPath(r))
	// One extra row tells whether a next page exists; the store keeps no total for the log.
	es, err := d.insp.Audit(r.Context(), asyncmqtype.AuditParams{
		Action: f.Action, Status: f.Status, Queue: f.Queue, Actor: f.Actor, Text: f.Text,
		Limit: pg.Size + 1, Offset: pg.offset(),
	})
	if err != nil {
		return err
	}
	more := len(es) > pg.Size
	if more {
		es = es[:pg.Size]
	}
	pg.openEnded(more)
	for i := range es {
		es[i].Error = d.redact.Text(es[i].Error)
		es[i].Detail = d.redact.Text(es[i].Detail)
	}
	actions := []string{actQueuePause, actQueueResume, actQueueDrain, actQueueClean, actQueueObliterate,
		actJobRetry, actJobCancel, actJobRemove, actJobPromote,
		actRepeatableCreate, actRepeatablePause, actRepeatableResume, actRepeatableRemove}
	p := d.newPage(w, r, "Audit log", "audit", auditData{Filter: f, Entries: es, Pager: pg, Actions: actions})
	return d.render(w, r, http.StatusOK, "audit", p)
}

// checkFilters refuses a filter value (given as name, value pairs) longer than MaxFilterBytes:
// pages copy filters into many links, so an unbounded one multiplies into an unbounded page.
func checkFilters(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if len(kv[i+1]) > MaxFilterBytes {
			return badRequest("The %s filter is %d bytes long; filters may hold at most %d bytes.", kv[i], len(kv[i+1]), MaxFilterBytes)
		}
	}
	return nil
}

// publicPath is the browser-visible path of the request, without its query.
func publicPath(r *http.Request) string {
	return admin.BasePath(r) + r.URL.EscapedPath()
}

// withQuery returns path?query with key set to value (removed when value is "").
func withQuery(path string, q url.Values, kv ...string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			c.Del(kv[i])
		} else {
			c.Set(kv[i], kv[i+1])
		}
	}
	if len(c) == 0 {
		return path
	}
	return path + "?" + c.Encode()
}
