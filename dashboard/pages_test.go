package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// fixture fills the env with what AsyncMQ's controller tests use: queues emails and reports,
// failed jobs carrying secrets, waiting, delayed and completed jobs, workers and a repeatable.
func fixture(t *testing.T, e *env) (failed *asyncmqtype.JobInfo) {
	t.Helper()
	ctx := context.Background()
	f := job("emails", "send_welcome", `{"to":"ada@example.com","password":"hunter2","nested":{"api_key":"k-123"}}`)
	e.add(f)
	e.finishAll("emails", asyncmqtype.OutcomeFailed, `SMTP refused: token=tok-secret`, "goroutine 1 [running]:\nmain.send()\n\tpassword=stack-secret")
	e.add(job("emails", "send_welcome", `{"to":"bob@example.com"}`))
	e.finishAll("emails", asyncmqtype.OutcomeCompleted, "", "")
	d := job("emails", "send_digest", `{"day":"mon"}`)
	d.RunAt = time.Now().Add(time.Hour)
	e.add(d, job("emails", "send_welcome", `{"to":"cy@example.com"}`), job("reports", "build_report", `{"month":"may"}`))
	if _, err := e.b.Heartbeat(ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{
		ID: "worker-1", Hostname: "host-a", PID: 42, Queues: []string{"emails", "reports"}, Concurrency: 10, Active: 2,
	}}); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if _, err := e.insp.CreateRepeatable(ctx, asyncmq.RepeatableSpec{Queue: "emails", Task: "nightly_digest",
		Cron: "0 3 * * *", Payload: json.RawMessage(`{"secret":"rep-secret"}`)}); err != nil {
		t.Fatalf("create repeatable: %v", err)
	}
	return f
}

func TestPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	failed := fixture(t, e)
	secrets := []string{"hunter2", "k-123", "tok-secret", "stack-secret", "rep-secret"}
	tests := []struct {
		path string
		want []string
	}{
		{"/", []string{"<title>Dashboard | Overview</title>", "AsyncMQ", "emails", "reports", `data-total="jobs"`, `id="throughput-chart"`, `id="recent-events"`}},
		{"/queues", []string{"emails", "reports", `data-testid="pause-queue"`, "Dead letters", "Repeatables"}},
		{"/queues/emails", []string{"emails", `id="queue-chart"`, "waiting", "active", "delayed", "completed", "failed", "cancelled", "Drain", "Obliterate"}},
		{"/queues/emails/jobs", []string{"send_welcome", "1 waiting job found.", "Page 1 of 1"}},
		{"/queues/emails/jobs?state=failed", []string{failed.ID, "1 failed job found.", "[redacted]", `data-testid="bulk-retry-selected"`}},
		{"/queues/emails/jobs?state=delayed", []string{"send_digest", `data-testid="bulk-promote-selected"`}},
		{"/queues/emails/jobs?state=completed", []string{"bob@example.com"}},
		{"/queues/emails/jobs/" + failed.ID, []string{"send_welcome", "SMTP refused: token=[redacted]", "goroutine 1 [running]", "Attempt 1", `data-testid="job-retry"`, "ada@example.com"}},
		{"/queues/emails/dlq", []string{failed.ID, "Dead letters", `data-select-all="job_id"`, "retry all"}},
		{"/queues/emails/repeatables", []string{"nightly_digest", "cron 0 3 * * *", "Remove repeatable", "[redacted]"}},
		{"/queues/emails/repeatables/new", []string{`name="task"`, `name="every"`, `name="cron"`, "Create repeatable"}},
		{"/workers", []string{"Worker Health", "worker-1", "host-a", "Healthy", "Page 1 of 1"}},
		{"/metrics", []string{"Throughput", `data-history-url=`, "emails"}},
		{"/audit", []string{"No audit entries match."}},
		{"/events/history", []string{"job:failed", "job:enqueued", "token=[redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			r := e.get(tt.path)
			wantStatus(t, r, http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			wantContains(t, r.body, tt.want...)
			wantNotContains(t, r.body, secrets...)
			wantCSPSafe(t, r.body)
			wantLabelledControls(t, r.body)
		})
	}
}

var (
	inputRE  = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idRE     = regexp.MustCompile(`\bid="([^"]+)"`)
	labelFor = regexp.MustCompile(`<label for="([^"]+)"`)
)

// wantLabelledControls checks every visible form control has an accessible name: a <label for>,
// an aria-label, or an enclosing <label> (checked loosely: the control follows "<label>").
func wantLabelledControls(t *testing.T, body string) {
	t.Helper()
	labelled := make(map[string]bool)
	for _, m := range labelFor.FindAllStringSubmatch(body, -1) {
		labelled[m[1]] = true
	}
	for _, loc := range inputRE.FindAllStringIndex(body, -1) {
		tag := body[loc[0]:loc[1]]
		if strings.Contains(tag, `type="hidden"`) || strings.Contains(tag, "aria-label=") {
			continue
		}
		if m := idRE.FindStringSubmatch(tag); m != nil && labelled[m[1]] {
			continue
		}
		if strings.HasSuffix(strings.TrimSpace(body[max(0, loc[0]-8):loc[0]]), "<label>") {
			continue
		}
		t.Errorf("form control without an accessible name: %s", tag)
	}
}

func TestNotFoundAndBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t, withOuter("/operations"))
	other := job("reports", "build", "")
	e.add(job("emails", "send", ""), other)
	tests := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"unknown page", "/no/such/page", http.StatusNotFound, "Page not found"},
		{"unknown queue", "/queues/nope", http.StatusNotFound, "Queue not found"},
		{"unknown queue jobs", "/queues/nope/jobs", http.StatusNotFound, "Queue not found"},
		{"unknown job", "/queues/emails/jobs/nope", http.StatusNotFound, "Job not found"},
		{"job of another queue", "/queues/emails/jobs/" + other.ID, http.StatusNotFound, "Job not found"},
		{"unknown state", "/queues/emails/jobs?state=exploded", http.StatusBadRequest, "Unknown job state"},
		{"unknown audit status", "/audit?status=maybe", http.StatusBadRequest, "Unknown audit status"},
		{"unknown event type", "/events/history?event=job:nope", http.StatusBadRequest, "Unknown event type"},
		{"missing static file", "/static/nope.js", http.StatusNotFound, "Page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.get(tt.path)
			wantStatus(t, r, tt.status)
			wantContains(t, r.body, tt.want)
			if tt.status == http.StatusNotFound && tt.want != "" {
				// The home link of the custom 404 page keeps the nested outer prefix.
				wantContains(t, r.body, `href="/operations/asyncmq/" data-testid="home-link"`)
			}
		})
	}
}

func TestUncleanPathIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Outer muxes usually clean paths first; the dashboard must not redirect one it gets to a
	// location computed without its mount prefix.
	for _, p := range []string{"/queues/../queues", "//queues", "/queues/"} {
		rec := httptest.NewRecorder()
		e.d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusNotFound || rec.Header().Get("Location") != "" {
			t.Errorf("%s: status %d, Location %q; want 404 without redirect", p, rec.Code, rec.Header().Get("Location"))
		}
	}
}

func TestMountPrefixes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
		outer  string
		base   string
	}{
		{"default prefix", "/asyncmq", "", "/asyncmq"},
		{"root", "/", "", ""},
		{"nested outer prefix", "/asyncmq", "/operations", "/operations/asyncmq"},
		{"other prefix", "/ops", "", "/ops"},
	}
	urlAttr := regexp.MustCompile(`(?:href|src|action|data-events-url|data-history-url|data-base)="([^"]*)"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, withPrefix(tt.prefix), withOuter(tt.outer))
			e.add(job("emails", "send", ""))
			for _, p := range []string{"/", "/queues/emails", "/queues/emails/jobs", "/nope"} {
				r := e.get(p)
				wantContains(t, r.body,
					`href="`+tt.base+`/queues"`, `href="`+tt.base+`/workers"`, `href="`+tt.base+`/metrics"`,
					`href="`+tt.base+`/audit"`, `href="`+tt.base+`/events/history"`,
					`data-events-url="`+tt.base+`/events`, `href="`+tt.base+`/static/app.css?v=`,
					`src="`+tt.base+`/static/app.js?v=`, `href="`+tt.base+`/static/favicon.svg?v=`)
				for _, m := range urlAttr.FindAllStringSubmatch(r.body, -1) {
					u := m[1]
					if strings.HasPrefix(u, "//") || strings.Contains(u, "//") {
						t.Errorf("%s: URL %q has a double slash", p, u)
					}
					if strings.HasPrefix(u, "/") && tt.base != "" && !strings.HasPrefix(u, tt.base) {
						t.Errorf("%s: URL %q is outside the mount %q", p, u, tt.base)
					}
				}
			}
			// Assets load through the same mount.
			wantStatus(t, e.get("/static/app.css"), http.StatusOK)
			// Actions redirect inside the mount.
			r := e.post("/queues/emails", map[string][]string{"action": {"pause"}})
			wantStatus(t, r, http.StatusSeeOther)
			if loc := r.header.Get("Location"); loc != tt.base+"/queues/emails" {
				t.Errorf("Location = %q, want %q", loc, tt.base+"/queues/emails")
			}
		})
	}
}

func TestHostileValuesAreEscaped(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const queue = `q<script>alert("q")`
	j := job(queue, `task<script>alert("t")</script>`, `{"html":"<script>alert('p')</script>","img":"<img src=x onerror=alert(1)>"}`)
	e.add(j)
	e.finishAll(queue, asyncmqtype.OutcomeFailed, `err <script>alert("e")</script>`, `stack <b onmouseover=alert(1)>`)
	e.add(job(queue, `task<script>alert("t")</script>`, ""))
	escapedQueue := "q%3Cscript%3Ealert%28%22q%22%29"
	pages := []string{
		"/", "/queues", "/queues/" + escapedQueue, "/queues/" + escapedQueue + "/jobs?state=failed",
		"/queues/" + escapedQueue + "/jobs/" + j.ID, "/queues/" + escapedQueue + "/dlq", "/events/history",
		"/metrics", "/queues/" + escapedQueue + "/jobs?state=failed&q=%3Cscript%3E",
	}
	for _, p := range pages {
		r := e.get(p)
		wantStatus(t, r, http.StatusOK)
		wantNotContains(t, r.body, "<script>alert", "<img src=x", "<b onmouseover")
		wantCSPSafe(t, r.body)
	}
	r := e.get("/queues/" + escapedQueue + "/jobs/" + j.ID)
	wantContains(t, r.body, "&lt;script&gt;alert(&#34;e&#34;)&lt;/script&gt;", "task&lt;script&gt;")
	// The retry form posts to the escaped job path and works.
	post := e.post("/queues/"+escapedQueue+"/jobs/"+j.ID+"/retry", nil)
	wantStatus(t, post, http.StatusSeeOther)
	if got := e.state(j.ID); got != asyncmqtype.StateWaiting {
		t.Errorf("state after retry = %s, want waiting", got)
	}
}

func TestConfigTitlesAndTheme(t *testing.T) {
	t.Parallel()
	e := setup(t, withConfig(Config{Title: "Ops", HeaderTitle: "Acme Jobs", AccentColor: "#ff5500", Favicon: "/static/vendor/uplot/LICENSE"}))
	r := e.get("/queues")
	wantContains(t, r.body, "<title>Ops | Queues</title>", `class="brand" href="/asyncmq/">Acme Jobs</a>`,
		`<link rel="icon" href="/asyncmq/static/vendor/uplot/LICENSE">`)
	theme := e.get("/static/theme.css")
	wantStatus(t, theme, http.StatusOK)
	wantContains(t, theme.body, "--accent: #ff5500;")
	if ct := theme.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("theme Content-Type = %q", ct)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	insp := asyncmq.NewInspector(nil)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"colour breaking out of the stylesheet", Config{AccentColor: "red;}body{display:none"}, "AccentColor"},
		{"colour with url", Config{AccentColor: "url(https://evil)"}, "AccentColor"},
		{"external favicon", Config{Favicon: "https://cdn.example/icon.png"}, "Favicon"},
		{"protocol-relative favicon", Config{Favicon: "//cdn.example/icon.png"}, "Favicon"},
		{"favicon breaking the attribute", Config{Favicon: `/x" onload="alert(1)`}, "Favicon"},
		{"empty redact key", Config{RedactKeys: []string{"__"}}, "RedactKeys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(insp, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one naming %s", err, tt.want)
			}
		})
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}
