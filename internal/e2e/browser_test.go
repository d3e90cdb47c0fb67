package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/e2e"
)

const (
	// browserBudget bounds the whole browser session: start, every page, shutdown. The layout
	// test visits every page at four widths, with a full-page screenshot each.
	browserBudget = 180 * time.Second
	// stepTimeout bounds one browser step: a navigation, a click, a wait.
	stepTimeout = 15 * time.Second
	// queue is the queue the scenario's jobs go to.
	queue = "e2e"
)

// cspListener reports Content-Security-Policy violations as console errors, so they fail the test
// even where the browser would only count them. Scripts added through the DevTools protocol are
// not subject to the page's CSP.
const cspListener = `document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline code") +
    " in " + e.sourceFile + ":" + e.lineNumber);
});`

// browser is one headless Chromium tab on a running stack.
type browser struct {
	t     *testing.T
	stack *e2e.Stack
	ctx   context.Context
	shots string

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// flakyHandler fails a job's first run for good (SkipRetry) and, on every later run, signals
// started and then waits for release, so the test decides when the job completes.
type flakyHandler struct {
	calls   sync.Map // job ID → *atomic.Int32
	started chan string
	release chan struct{}
}

func (h *flakyHandler) ProcessJob(ctx context.Context, job *asyncmq.Job) error {
	n, _ := h.calls.LoadOrStore(job.ID, new(atomic.Int32))
	if n.(*atomic.Int32).Add(1) == 1 {
		// Markup in the error message must be shown as text, never parsed.
		return fmt.Errorf("charge card <img src=x data-testid=hostile-error>: declined: %w", asyncmq.SkipRetry)
	}
	select {
	case h.started <- job.ID:
	default:
	}
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setupBrowser starts the stack with h as its worker's handler and a Chromium on it. It skips
// the test when ASYNCMQ_TEST_CHROMIUM is unset.
func setupBrowser(t *testing.T, h asyncmq.Handler) *browser {
	t.Helper()
	return setupBrowserWrapped(t, h, nil)
}

// setupBrowserWrapped is setupBrowser with wrap around the stack's handler (e2e.Config.Wrap).
func setupBrowserWrapped(t *testing.T, h asyncmq.Handler, wrap func(http.Handler) http.Handler) *browser {
	t.Helper()
	chromium := os.Getenv("ASYNCMQ_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("ASYNCMQ_TEST_CHROMIUM is unset; set it to a Chromium binary (Debian: /usr/bin/chromium, which .ci/run installs and sets) to run the browser tests")
	}

	st, err := e2e.Start(t.Context(), e2e.Config{
		DBPath:            filepath.Join(t.TempDir(), "asyncmq.db"),
		Handler:           h,
		Queues:            map[string]int{queue: 2},
		EventPollInterval: 100 * time.Millisecond,
		Wrap:              wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return launchBrowser(t, chromium, st)
}

// launchBrowser starts a headless Chromium for a test, with console capture and the CSP
// violation listener; st may be nil for a test that serves its own stack.
func launchBrowser(t *testing.T, chromium string, st *e2e.Stack) *browser {
	t.Helper()
	// The user data directory is removed after the browser exits: Cleanup runs last-in
	// first-out and the allocator's cancel waits for the process.
	profile := t.TempDir()
	budget, cancelBudget := context.WithTimeout(context.Background(), browserBudget)
	t.Cleanup(cancelBudget)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(budget, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first action starts the browser and binds it to ctx, which therefore has no step
	// timeout; later steps derive their own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", chromium, err)
	}

	b := &browser{t: t, stack: st, ctx: ctx, shots: screenshotDir(t)}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	b.do("install the CSP violation listener", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener})
		return err
	}))
	return b
}

// screenshotDir is artifacts/screenshots at the repository root (git-ignored), created if
// missing, without the failure screenshots of earlier runs.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory")
		}
		dir = parent
	}
	dir = filepath.Join(dir, "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale, err := filepath.Glob(filepath.Join(dir, "failed-*.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// url is the absolute URL of a dashboard path ("/" is the overview).
func (b *browser) url(path string) string { return b.stack.URL + path }

// do runs steps within stepTimeout and fails the test, with a screenshot of the page, if they
// fail.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.failure(what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action within stepTimeout and returns its value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.failure(what)
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is true. A reload or navigation of the page
// meanwhile fails the wait, so it also proves that whatever made it true arrived in place.
func (b *browser) waitFor(what, predicate string) {
	b.t.Helper()
	b.do(what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](predicate,
			chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(stepTimeout-time.Second))(ctx, tg)
		return err
	}))
}

// text returns the text of the first element matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// location returns the page's URL.
func (b *browser) location() *url.URL {
	b.t.Helper()
	loc := get(b, "read the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("location %q: %v", loc, err)
	}
	return u
}

// screenshot saves the full page as <name>.png in the screenshot folder.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatalf("save screenshot %s: %v", name, err)
	}
}

// failure saves what the page showed when a step failed, best effort.
func (b *browser) failure(what string) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	name := "failed-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(what)) + ".png"
	if os.WriteFile(filepath.Join(b.shots, name), png, 0o644) == nil {
		b.t.Logf("the page at the failure is in %s", filepath.Join(b.shots, name))
	}
}

// consoleProblems returns the console errors, uncaught exceptions and CSP violations seen so
// far.
func (b *browser) consoleProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleException:
			out = append(out, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
		case chromedp.ConsoleWarning:
			b.t.Logf("console warning: %s (%s:%d)", m, m.URL, m.Line+1)
		}
	}
	return out
}

// waitJob polls the store until the job is in state.
func waitJob(t *testing.T, insp *asyncmq.Inspector, id string, state asyncmqtype.State) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		j, err := insp.Job(t.Context(), id)
		if err != nil {
			t.Fatalf("get job %s: %v", id, err)
		}
		if j.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after %s, want %s", id, j.State, stepTimeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrowserDashboard walks an operator through the dashboard in Chromium: sign in by pasting
// a JWT, watch a job fail on the overview, open it, retry it, see it complete live, visit every
// main page and sign out. Any console error, uncaught exception or CSP violation fails it.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	h := &flakyHandler{started: make(chan string, 1), release: make(chan struct{})}
	b := setupBrowser(t, h)
	ctx := t.Context()
	st := b.stack
	token, err := st.Token(e2e.TokenParams{Subject: "e2e-operator", Name: "E2E Operator", Roles: []string{"operator"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Inspector.CreateRepeatable(ctx, asyncmq.RepeatableSpec{Queue: queue, Task: "e2e.report", Cron: "@every 1h"}); err != nil {
		t.Fatal(err)
	}

	// An anonymous visitor is sent to the login page, which remembers where they were going.
	b.do("open the dashboard", chromedp.Navigate(b.url("/")), chromedp.WaitVisible(chromedp.CSS("textarea#token")))
	if got := b.location(); got.Path != e2e.Prefix+"/login" || got.Query().Get("next") != e2e.Prefix+"/" {
		t.Errorf("anonymous visit landed on %s, want %s/login?next=%s/", got, e2e.Prefix, e2e.Prefix)
	}
	b.screenshot("01-login")

	b.do("paste the token and sign in",
		chromedp.SetValue(chromedp.CSS("textarea#token"), token),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="overview-totals"]`)),
	)
	if got := b.location(); got.RequestURI() != e2e.Prefix+"/" {
		t.Errorf("after signing in the page is %s, want %s/", got, e2e.Prefix)
	}
	if got := b.text(`[data-testid="current-user"]`); !strings.Contains(got, "E2E Operator") {
		t.Errorf("signed-in user shows as %q, want it to name E2E Operator", got)
	}
	b.waitFor("connect the live updates", `document.getElementById("live-status").dataset.state === "live"`)

	// A job that fails for good shows up on the open overview without a reload.
	job, err := st.Client.Enqueue(ctx, "e2e.charge",
		map[string]any{"order": 42, "note": "<script>window.__hostile = 1</script>", "password": "hunter2"},
		asyncmq.Queue(queue))
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, st.Inspector, job.ID, asyncmqtype.StateFailed)
	b.waitFor("see the failure counted live", `document.querySelector('[data-total="failed"]').textContent === "1"`)
	b.screenshot("02-overview")

	b.do("open the queues", chromedp.Navigate(b.url("/queues")), chromedp.WaitVisible(chromedp.CSS(`a[href$="/queues/`+queue+`"]`)))
	b.screenshot("03-queues")

	row := `tr[data-job-id="` + job.ID + `"]`
	b.do("open the dead letters", chromedp.Navigate(b.url("/queues/"+queue+"/dlq")), chromedp.WaitVisible(chromedp.CSS(row)))
	b.screenshot("04-dlq")

	b.do("open the failed jobs", chromedp.Navigate(b.url("/queues/"+queue+"/jobs?state=failed")), chromedp.WaitVisible(chromedp.CSS(row)))
	b.screenshot("05-jobs")

	b.do("open the failed job",
		chromedp.Click(chromedp.CSS(row+" a")),
		chromedp.WaitVisible(chromedp.CSS(`#job-panel[data-job-id="`+job.ID+`"]`)),
	)
	b.waitFor("connect the live updates on the job page", `document.getElementById("live-status").dataset.state === "live"`)
	if got := b.text(`#job-panel [data-field="state"]`); got != "failed" {
		t.Errorf("job page shows state %q, want failed", got)
	}
	if got := b.text(`[data-testid="job-error"]`); !strings.Contains(got, "<img src=x data-testid=hostile-error>") || !strings.Contains(got, "declined") {
		t.Errorf("job page shows the error as %q, want the handler's message with its markup as text", got)
	}
	payload := b.text(`[data-testid="job-payload"]`)
	if !strings.Contains(payload, "<script>") {
		t.Errorf("job page shows the payload as %q, want the markup in it as text", payload)
	}
	if strings.Contains(payload, "hunter2") {
		t.Errorf("job page shows the password in the payload: %q", payload)
	}
	hostile := get(b, "look for injected markup", chromedp.Evaluate[bool](
		`window.__hostile === 1 || document.querySelector('[data-testid="hostile-error"]') !== null`))
	if hostile {
		t.Error("markup from the payload or the error message was parsed into the page")
	}
	b.screenshot("06-job")

	// Retry, then watch the job run and complete without the page reloading: the marker set on
	// the page would be lost by a reload, and the waits fail on a navigation.
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__e2eNoReload = true`))
	b.do("retry the job", chromedp.Click(chromedp.CSS(`[data-testid="job-retry"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)))
	select {
	case id := <-h.started:
		if id != job.ID {
			t.Fatalf("the worker ran job %s, want the retried job %s", id, job.ID)
		}
	case <-time.After(stepTimeout):
		t.Fatalf("the retried job %s did not start within %s", job.ID, stepTimeout)
	}
	b.waitFor("see the job run", `document.querySelector('#job-panel [data-field="state"]').textContent === "active"`)
	// From here only the event stream can update the page: the retry's own refresh is done.
	close(h.release)
	waitJob(t, st.Inspector, job.ID, asyncmqtype.StateCompleted)
	b.waitFor("see the job complete live", `document.querySelector('#job-panel [data-field="state"]').textContent === "completed"`)
	if !get(b, "check the page was not reloaded", chromedp.Evaluate[bool](`window.__e2eNoReload === true`)) {
		t.Error("the job page was reloaded; the state change should arrive over the event stream")
	}
	b.screenshot("07-job-completed")

	b.do("open the workers", chromedp.Navigate(b.url("/workers")), chromedp.WaitVisible(chromedp.CSS("main table")))
	b.screenshot("08-workers")

	b.do("open the metrics", chromedp.Navigate(b.url("/metrics")), chromedp.WaitVisible(chromedp.CSS("[data-chart] canvas")))
	b.screenshot("09-metrics")

	b.do("open the audit log", chromedp.Navigate(b.url("/audit")), chromedp.WaitVisible(chromedp.CSS("main table")))
	audit := b.text("main table")
	// Listings show a short ID; the full one is in the copy button.
	fullID := get(b, "find the job in the audit log", chromedp.Evaluate[bool](`document.querySelector('main table [data-copy="`+job.ID+`"]') !== null`))
	if !strings.Contains(audit, "e2e-operator") || !fullID {
		t.Errorf("audit log does not show e2e-operator's retry of %s:\n%s", job.ID, audit)
	}
	b.screenshot("10-audit")

	b.do("open the repeatables", chromedp.Navigate(b.url("/queues/"+queue+"/repeatables")),
		chromedp.WaitVisible(chromedp.CSS("main table")))
	if got := b.text("main table"); !strings.Contains(got, "e2e.report") {
		t.Errorf("repeatables page does not list e2e.report:\n%s", got)
	}
	b.screenshot("11-repeatables")

	// Signing out clears the cookie: the dashboard sends the browser back to the login page.
	b.do("sign out", chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)), chromedp.WaitVisible(chromedp.CSS("textarea#token")))
	if got := b.location(); got.RequestURI() != e2e.Prefix+"/login" {
		t.Errorf("after signing out the page is %s, want %s/login", got, e2e.Prefix)
	}
	b.do("open the dashboard signed out", chromedp.Navigate(b.url("/")), chromedp.WaitVisible(chromedp.CSS("textarea#token")))
	if got := b.location(); got.Path != e2e.Prefix+"/login" {
		t.Errorf("signed out, the dashboard answered at %s, want a redirect to the login page", got)
	}

	for _, p := range b.consoleProblems() {
		t.Errorf("console: %s", p)
	}
}

// TestBrowserReportsCSPViolations proves the console check above can fail: inline script and
// an inline style attribute added to a dashboard page are refused by its strict CSP, and the
// refusals reach the collected console messages.
func TestBrowserReportsCSPViolations(t *testing.T) {
	t.Parallel()
	b := setupBrowser(t, nil)
	b.do("open the login page", chromedp.Navigate(b.url("/login")), chromedp.WaitVisible(chromedp.CSS("textarea#token")))
	b.do("inject inline code", chromedp.Evaluate[chromedp.Void](`(function () {
  var s = document.createElement("script");
  s.textContent = "window.__inline = 1";
  document.body.append(s);
  document.body.setAttribute("style", "color: red");
})()`))
	if get(b, "check the inline script did not run", chromedp.Evaluate[bool](`window.__inline === 1`)) {
		t.Error("an inline script ran: the page is not under a strict CSP")
	}
	want := []string{"CSP violation: script-src-elem", "CSP violation: style-src-attr"}
	deadline := time.Now().Add(stepTimeout)
	for {
		problems := strings.Join(b.consoleProblems(), "\n")
		missing := ""
		for _, w := range want {
			if !strings.Contains(problems, w) {
				missing = w
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("console lacks %q after %s; it has:\n%s", missing, stepTimeout, problems)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
