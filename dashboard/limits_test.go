package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAuditFieldsCapped reproduces issue 11 item 5: a viewer's refused change against a queue
// that does not exist stored every byte the request chose (a 200 KB repeatable ID, a long queue
// name) in the audit log.
func TestAuditFieldsCapped(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	viewer := []string{"X-Test-User", "victor", "X-Test-Roles", "viewer"}

	for _, longID := range []string{strings.Repeat("x", 200<<10), strings.Repeat("é", 2000)} {
		r := e.post("/queues/nowhere/repeatables", url.Values{"action": {"remove"}, "id": {longID}}, viewer...)
		wantStatus(t, r, http.StatusForbidden)
		a := e.lastAudit()
		if a.Status != auditDenied || a.Queue != "nowhere" || a.Action != actRepeatableRemove {
			t.Fatalf("audit entry %+v, want the denial recorded", a)
		}
		if len(a.Detail) > MaxAuditTextBytes || !utf8.ValidString(a.Detail) || !strings.HasPrefix(a.Detail, "id="+longID[:4]) || !strings.HasSuffix(a.Detail, "…") {
			t.Errorf("detail is %d bytes (%.20q…), want at most %d, valid UTF-8, marked as cut", len(a.Detail), a.Detail, MaxAuditTextBytes)
		}
	}

	longQueue := strings.Repeat("q", 3000)
	r := e.post("/queues/"+longQueue+"/repeatables", url.Values{"action": {"pause"}, "id": {"nightly"}}, viewer...)
	wantStatus(t, r, http.StatusForbidden)
	a := e.lastAudit()
	if a.Status != auditDenied || len(a.Queue) > MaxAuditNameBytes || !strings.HasPrefix(a.Queue, "qqq") {
		t.Errorf("queue field is %d bytes, want at most %d", len(a.Queue), MaxAuditNameBytes)
	}
}

// TestEchoedValuesBounded reproduces issue 11 item 8: a 900 KB query was copied into every link
// of a page (a 9 MB answer). Long queries and paths are refused, and so are long filters.
func TestEchoedValuesBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if _, err := e.insp.Queues(t.Context()); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 900<<10)
	tests := []struct {
		name string
		path string
		want int
	}{
		{"huge query", "/queues/emails/jobs?q=" + huge, http.StatusRequestURITooLong},
		{"huge unknown parameter", "/queues?junk=" + huge, http.StatusRequestURITooLong},
		{"huge path", "/queues/" + strings.Repeat("q", 5000) + "/jobs", http.StatusRequestURITooLong},
		{"long job filter", "/queues/emails/jobs?q=" + strings.Repeat("x", MaxFilterBytes+1), http.StatusBadRequest},
		{"long task filter", "/queues/emails/jobs?task=" + strings.Repeat("x", MaxFilterBytes+1), http.StatusBadRequest},
		{"long audit filter", "/audit?actor=" + strings.Repeat("x", MaxFilterBytes+1), http.StatusBadRequest},
		{"long event filter", "/events/history?q=" + strings.Repeat("x", MaxFilterBytes+1), http.StatusBadRequest},
		{"filter at the limit", "/audit?q=" + strings.Repeat("x", MaxFilterBytes), http.StatusOK},
	}
	for _, tt := range tests {
		r := e.get(tt.path)
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.want)
		}
		if len(r.body) > 64<<10 || len(r.header.Get("Location")) > 4<<10 {
			t.Errorf("%s: answered %d bytes of body and %d of Location", tt.name, len(r.body), len(r.header.Get("Location")))
		}
	}
}
