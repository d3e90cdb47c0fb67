package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// FuzzHandlers sends arbitrary paths, queries, forms and headers to the dashboard: whatever the
// input, the answer is never a 5xx and never a panic.
func FuzzHandlers(f *testing.F) {
	seeds := []struct{ method, target, body, hdr string }{
		{"GET", "/queues/q/jobs?page=5000&size=999&state=failed", "", ""},
		{"GET", "/queues/q/jobs?state=%00", "", "HX-Request"},
		{"POST", "/queues/q/jobs", "action=retry&scope=matching&state=failed&confirm=yes", ""},
		{"POST", "/queues/q/jobs/j1/retry", "return_to=//evil", "HX-Request"},
		{"POST", "/queues/q", "action=clean&state=failed&grace=-1&limit=x", ""},
		{"POST", "/queues/q/repeatables/new", "task=%3Cx%3E&cron=*+*+*&payload=%7B", "Accept"},
		{"GET", "/metrics/history?minutes=-9999999999999999999", "", ""},
		{"GET", "/audit?status=x&page=99999999999999999999", "", ""},
		{"GET", "/static/../../etc/passwd", "", ""},
		{"GET", "/events/history?limit=-1&event=job:failed", "", ""},
		{"GET", "/static", "", ""},
		{"GET", "/audit?q=" + strings.Repeat("%22", 200) + "&actor=" + strings.Repeat("a", 600), "", ""},
		{"GET", "/queues/q/jobs?q=" + strings.Repeat("x", 5000), "", "HX-Request"},
		{"POST", "/queues/" + strings.Repeat("n", 300) + "/repeatables", "action=remove&id=" + strings.Repeat("%C3%A9", 800), ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.body, s.hdr)
	}
	mem := memory.New()
	f.Cleanup(func() { mem.Close() })
	ctx := context.Background()
	j := &asyncmqtype.JobInfo{ID: "j1", Queue: "q", Task: "t"}
	if err := mem.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}}); err != nil {
		f.Fatal(err)
	}
	d, err := New(asyncmq.NewInspector(mem), Config{Logger: quietLogger(), EventPollInterval: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(d.Close)
	f.Fuzz(func(t *testing.T, method, target, body, hdr string) {
		if method != http.MethodGet && method != http.MethodPost {
			method = http.MethodGet
		}
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "/events?") || target == "/events" {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest(method, "http://example.test/", strings.NewReader(body))
		req.URL = u
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		switch hdr {
		case "HX-Request":
			req.Header.Set("HX-Request", "true")
			req.Header.Set("HX-Target", "job-list")
		case "Accept":
			req.Header.Set("Accept", "application/json")
		}
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", method, target, body, rec.Code, truncate(300, rec.Body.String()))
		}
	})
}

func FuzzParseLastEventID(f *testing.F) {
	for _, s := range []string{"", "0", "42", "-1", "x", "99999999999999999999", " 7 ", "1739860138262-0", "a\x00b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest(http.MethodGet, "/events", nil)
		r.Header.Set("Last-Event-ID", v)
		id, err := parseLastEventID(r)
		if err == nil && (len(id) > maxCursorBytes || strings.ContainsAny(id, " \t\r\n\x00")) {
			t.Fatalf("parseLastEventID(%q) = %q, a cursor that cannot be an SSE id", v, id)
		}
		if err != nil {
			if status, _ := classify(err); status != http.StatusBadRequest {
				t.Fatalf("parseLastEventID(%q) error is %d, want 400", v, status)
			}
		}
	})
}
