package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// env is one dashboard mounted through a real admin handler on a live test server.
type env struct {
	t      *testing.T
	b      backend.Store
	insp   *asyncmq.Inspector
	d      *Dashboard
	srv    *httptest.Server
	client *http.Client
	// base is the dashboard's public path: outer prefix + admin prefix.
	base string
}

type setupOptions struct {
	prefix  string // admin URLPrefix; default "/asyncmq"
	outer   string // an outer http.StripPrefix, "" for none
	cfg     Config
	auth    admin.AuthBackend
	backend backend.Store
	session bool
}

type option func(*setupOptions)

func withPrefix(p string) option         { return func(o *setupOptions) { o.prefix = p } }
func withOuter(p string) option          { return func(o *setupOptions) { o.outer = p } }
func withConfig(c Config) option         { return func(o *setupOptions) { o.cfg = c } }
func withBackend(b backend.Store) option { return func(o *setupOptions) { o.backend = b } }
func withSessions() option               { return func(o *setupOptions) { o.session = true } }

// withRoles turns on Config.Roles and login through a header-driven fake auth backend.
func withRoles() option {
	return func(o *setupOptions) { o.cfg.Roles = true; o.auth = headerAuth{} }
}

// headerAuth authenticates "X-Test-User: id" with the comma-separated roles of X-Test-Roles.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (*admin.User, error) {
	id := r.Header.Get("X-Test-User")
	if id == "" {
		return nil, admin.ErrNoCredentials
	}
	var roles []string
	if v := r.Header.Get("X-Test-Roles"); v != "" {
		roles = strings.Split(v, ",")
	}
	return &admin.User{ID: id, Name: "User " + id, Roles: roles}, nil
}
func (headerAuth) Login(w http.ResponseWriter, r *http.Request)  { io.WriteString(w, "login") }
func (headerAuth) Logout(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "logout") }
func (headerAuth) Routes() []admin.Route                         { return nil }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func setup(t *testing.T, opts ...option) *env {
	t.Helper()
	o := setupOptions{prefix: "/asyncmq"}
	for _, f := range opts {
		f(&o)
	}
	b := o.backend
	if b == nil {
		mem := memory.New()
		t.Cleanup(func() { mem.Close() })
		b = mem
	}
	insp := asyncmq.NewInspector(b)
	if o.cfg.Logger == nil {
		o.cfg.Logger = quietLogger()
	}
	if o.cfg.EventPollInterval == 0 {
		o.cfg.EventPollInterval = 20 * time.Millisecond
	}
	d, err := New(insp, o.cfg)
	if err != nil {
		t.Fatalf("dashboard.New: %v", err)
	}
	t.Cleanup(d.Close)
	ac := admin.Config{Handler: d, URLPrefix: o.prefix, Ready: d.Ready, Logger: quietLogger(), IncludeSession: &o.session}
	if o.auth != nil {
		ac.EnableLogin, ac.Backend = true, o.auth
		no := false
		ac.RequireAdmin = &no
		ac.RequiredRoles = []string{"viewer", "operator", "admin"}
	}
	a, err := admin.New(ac)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	mux := http.NewServeMux()
	a.Mount(mux)
	var h http.Handler = mux
	if o.outer != "" {
		outer := http.NewServeMux()
		outer.Handle(o.outer+"/", http.StripPrefix(o.outer, mux))
		h = outer
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := o.outer + strings.TrimSuffix(o.prefix, "/")
	return &env{t: t, b: b, insp: insp, d: d, srv: srv, client: client, base: base}
}

// response is a finished request: status, headers and body.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request to base+path. Unsafe requests carry the server's own Origin, as a browser
// form does. hdr alternates header names and values.
func (e *env) do(method, path string, form url.Values, hdr ...string) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+e.base+path, body)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", e.srv.URL)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (e *env) get(path string, hdr ...string) response {
	return e.do(http.MethodGet, path, nil, hdr...)
}

func (e *env) post(path string, form url.Values, hdr ...string) response {
	return e.do(http.MethodPost, path, form, hdr...)
}

// follow GETs the Location of a redirect (an absolute path) with the same headers.
func (e *env) follow(r response, hdr ...string) response {
	e.t.Helper()
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.base+"/") && loc != e.base+"/" {
		e.t.Fatalf("redirect Location %q is not under %q", loc, e.base)
	}
	return e.get(strings.TrimPrefix(loc, e.base), hdr...)
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body:\n%s", r.status, want, truncate(2000, r.body))
	}
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q; body:\n%s", s, truncate(3000, body))
		}
	}
}

func wantNotContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("body contains %q", s)
		}
	}
}

var jobSeq atomic.Int64

// job is a test job with sensible defaults.
func job(queue, task string, payload string) *asyncmqtype.JobInfo {
	id := fmt.Sprintf("j%06d", jobSeq.Add(1))
	j := &asyncmqtype.JobInfo{ID: id, Queue: queue, Task: task, MaxRetries: 0, Priority: 5}
	if payload != "" {
		j.Payload = json.RawMessage(payload)
	}
	return j
}

// add enqueues jobs as given.
func (e *env) add(jobs ...*asyncmqtype.JobInfo) {
	e.t.Helper()
	if err := e.b.Enqueue(context.Background(), backend.EnqueueParams{Jobs: jobs}); err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
}

// finishAll claims every runnable job of queue and finishes each with outcome; failures carry
// errMsg and stack.
func (e *env) finishAll(queue string, outcome asyncmqtype.Outcome, errMsg, stack string) []*asyncmqtype.JobInfo {
	e.t.Helper()
	ctx := context.Background()
	jobs, err := e.b.Claim(ctx, backend.ClaimParams{Queue: queue, WorkerID: "w-test", Limit: 1000, LeaseDuration: time.Minute})
	if err != nil {
		e.t.Fatalf("claim: %v", err)
	}
	var items []backend.Finish
	for _, j := range jobs {
		f := backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: outcome, Duration: 40 * time.Millisecond}
		switch outcome {
		case asyncmqtype.OutcomeCompleted:
			f.Result = json.RawMessage(`{"ok":true}`)
		case asyncmqtype.OutcomeRetry:
			f.Error = &asyncmqtype.AttemptError{Error: errMsg, Stack: stack}
			f.RetryDelay = time.Hour
		default:
			f.Error = &asyncmqtype.AttemptError{Error: errMsg, Stack: stack}
		}
		items = append(items, f)
	}
	if len(items) > 0 {
		errs, err := e.b.Finish(ctx, backend.FinishParams{Items: items})
		if err != nil {
			e.t.Fatalf("finish: %v", err)
		}
		for _, err := range errs {
			if err != nil {
				e.t.Fatalf("finish item: %v", err)
			}
		}
	}
	return jobs
}

// claimAll makes every runnable job of queue active.
func (e *env) claimAll(queue string) []*asyncmqtype.JobInfo {
	e.t.Helper()
	jobs, err := e.b.Claim(context.Background(), backend.ClaimParams{Queue: queue, WorkerID: "w-test", Limit: 1000, LeaseDuration: time.Minute})
	if err != nil {
		e.t.Fatalf("claim: %v", err)
	}
	return jobs
}

func (e *env) state(id string) asyncmqtype.State {
	e.t.Helper()
	j, err := e.b.GetJob(context.Background(), id)
	if errors.Is(err, asyncmqtype.ErrJobNotFound) {
		return "gone"
	}
	if err != nil {
		e.t.Fatalf("get job %s: %v", id, err)
	}
	return j.State
}

// auditEntries returns the audit log, newest first.
func (e *env) auditEntries() []asyncmqtype.AuditEntry {
	e.t.Helper()
	es, err := e.insp.Audit(context.Background(), asyncmqtype.AuditParams{Limit: 500})
	if err != nil {
		e.t.Fatalf("audit: %v", err)
	}
	return es
}

// lastAudit returns the newest audit entry; it fails the test when there is none.
func (e *env) lastAudit() asyncmqtype.AuditEntry {
	e.t.Helper()
	es := e.auditEntries()
	if len(es) == 0 {
		e.t.Fatal("no audit entry recorded")
	}
	return es[0]
}

var (
	inlineScriptRE = regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`)
	scriptTagRE    = regexp.MustCompile(`(?is)<script\b[^>]*>`)
	styleAttrRE    = regexp.MustCompile(`(?i)<[a-z][^>]*\sstyle\s*=`)
	eventAttrRE    = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)
)

// wantCSPSafe checks a page would run under a CSP without 'unsafe-inline': no inline script
// bodies, no script without src, no style elements or attributes, no inline event handlers.
func wantCSPSafe(t *testing.T, body string) {
	t.Helper()
	if inlineScriptRE.MatchString(body) {
		t.Errorf("page has an inline script")
	}
	for _, tag := range scriptTagRE.FindAllString(body, -1) {
		if !strings.Contains(tag, "src=") {
			t.Errorf("script tag without src: %s", tag)
		}
	}
	if styleAttrRE.MatchString(body) || strings.Contains(strings.ToLower(body), "<style") {
		t.Errorf("page has inline style")
	}
	if m := eventAttrRE.FindString(body); m != "" {
		t.Errorf("page has an inline event handler %q", m)
	}
}
