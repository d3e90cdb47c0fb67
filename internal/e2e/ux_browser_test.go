package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/e2e"
)

// overflowProbe lists what scrolls sideways: the page itself, or a panel whose content is wider
// than the panel (a table cut at its right edge). Empty means everything fits.
const overflowProbe = `(function () {
  var out = [];
  var de = document.documentElement;
  if (de.scrollWidth > de.clientWidth) { out.push("page " + de.scrollWidth + " > " + de.clientWidth); }
  document.querySelectorAll("main, .panel, .cards, .chart-row").forEach(function (el) {
    if (el.scrollWidth > el.clientWidth + 1) {
      var t = el.querySelector("[data-testid]");
      out.push((el.id || el.className) + (t ? " (" + t.getAttribute("data-testid") + ")" : "") + " " + el.scrollWidth + " > " + el.clientWidth);
    }
  });
  return out.join("; ");
})()`

// TestBrowserLayoutAndControls checks what a new user met in issue 13: every page fits 1280 px
// and up without sideways scrolling (screenshots at 1280, 1440, 1920 and 390 px), pausing a queue
// turns the button into Resume without a reload, a job ID is copied whole by its copy button,
// and dark mode follows the system and a remembered toggle.
func TestBrowserLayoutAndControls(t *testing.T) {
	t.Parallel()
	b := setupBrowser(t, asyncmq.HandlerFunc(func(ctx context.Context, j *asyncmq.Job) error {
		return fmt.Errorf("declined by the payment provider after a long and detailed explanation of why: %w", asyncmq.SkipRetry)
	}))
	ctx := t.Context()
	st := b.stack
	token, err := st.Token(e2e.TokenParams{Subject: "e2e-admin", Name: "E2E Admin", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	longTask := "billing.invoices.generate-monthly-statement-with-attachments"
	if _, err := st.Inspector.CreateRepeatable(ctx, asyncmq.RepeatableSpec{Queue: queue, Task: longTask,
		Cron: "@every 1h", Payload: []byte(`{"customer":"a-rather-long-customer-identifier-0001","format":"pdf"}`)}); err != nil {
		t.Fatal(err)
	}
	var failed *asyncmqtype.JobInfo
	for i := range 3 {
		j, err := st.Client.Enqueue(ctx, longTask, map[string]any{"n": i, "note": strings.Repeat("x", 200)}, asyncmq.Queue(queue))
		if err != nil {
			t.Fatal(err)
		}
		failed = j
	}
	waitJob(t, st.Inspector, failed.ID, asyncmqtype.StateFailed)

	b.do("sign in", chromedp.Navigate(b.url("/")), chromedp.WaitVisible(chromedp.CSS("textarea#token")),
		chromedp.SetValue(chromedp.CSS("textarea#token"), token),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="overview-totals"]`)))

	pages := []struct{ name, path, ready string }{
		{"overview", "/", `[data-testid="overview-totals"]`},
		{"queues", "/queues", `[data-testid="queue-table"]`},
		{"queue", "/queues/" + queue, `[data-testid="queue-stats"]`},
		{"jobs", "/queues/" + queue + "/jobs?state=failed", `[data-testid="job-table"]`},
		{"job", "/queues/" + queue + "/jobs/" + failed.ID, `#job-panel`},
		{"dlq", "/queues/" + queue + "/dlq", `main table`},
		{"repeatables", "/queues/" + queue + "/repeatables", `[data-testid="repeatable-table"]`},
		{"repeatable-new", "/queues/" + queue + "/repeatables/new", `main form`},
		{"workers", "/workers", `[data-testid="worker-table"]`},
		{"metrics", "/metrics", `[data-chart] canvas`},
		{"events", "/events/history", `[data-testid="event-table"]`},
		{"audit", "/audit", `[data-testid="audit-table"]`},
	}
	for _, w := range []int64{1280, 1440, 1920, 390} {
		b.do(fmt.Sprintf("set the viewport to %d px", w), chromedp.EmulateViewport(w, 900))
		for _, p := range pages {
			b.do("open "+p.name, chromedp.Navigate(b.url(p.path)), chromedp.WaitVisible(chromedp.CSS(p.ready)))
			if w >= 1280 {
				if got := get(b, "measure "+p.name, chromedp.Evaluate[string](overflowProbe)); got != "" {
					t.Errorf("%s at %d px scrolls sideways: %s", p.name, w, got)
				}
			}
			b.screenshot(fmt.Sprintf("ux-%d-%s", w, p.name))
		}
	}
	b.do("back to 1280 px", chromedp.EmulateViewport(1280, 900))

	// Full task names: the job list shows the whole name, not an ellipsis.
	b.do("open the failed jobs", chromedp.Navigate(b.url("/queues/"+queue+"/jobs?state=failed")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="job-table"]`)))
	if got := b.text(`tr[data-job-id="` + failed.ID + `"] td.wrap`); got != longTask {
		t.Errorf("job list shows the task as %q, want %q", got, longTask)
	}

	// Copy ID: the short form is shown, the full ID is on hover and copied by the button.
	row := `tr[data-job-id="` + failed.ID + `"]`
	if got := b.text(row + " .id-cell a"); got == failed.ID || !strings.HasSuffix(failed.ID, strings.TrimPrefix(got, "…")) {
		t.Errorf("job list shows the ID as %q, want a short form of %s", got, failed.ID)
	}
	if got := get(b, "read the ID's title", chromedp.Evaluate[string](`document.querySelector('`+row+` .id-cell a').title`)); got != failed.ID {
		t.Errorf("the ID's title is %q, want the full ID %s", got, failed.ID)
	}
	b.do("watch the clipboard", chromedp.Evaluate[chromedp.Void](`(function () {
  window.__copied = null;
  var c = navigator.clipboard;
  if (c) { var orig = c.writeText.bind(c); c.writeText = function (t) { window.__copied = t; return orig(t).catch(function () {}); }; }
  var exec = document.execCommand.bind(document);
  document.execCommand = function (cmd) { var a = document.activeElement; if (cmd === "copy" && a) { window.__copied = a.value; } return exec.apply(null, arguments); };
})()`))
	b.do("copy the job ID", chromedp.Click(chromedp.CSS(row+` [data-testid="copy-id"]`)))
	b.waitFor("see the ID copied", `document.querySelector('`+row+` [data-testid="copy-id"]').hasAttribute("data-copied")`)
	if got := get(b, "read what was copied", chromedp.Evaluate[string](`String(window.__copied)`)); got != failed.ID {
		t.Errorf("copied %q, want the full job ID %s", got, failed.ID)
	}

	// Pause flips to Resume, and back, without a reload; the store follows.
	b.do("open the queue", chromedp.Navigate(b.url("/queues/"+queue)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="pause-queue"]`)))
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__e2eNoReload = true`))
	b.do("pause the queue", chromedp.Click(chromedp.CSS(`[data-testid="pause-queue"]`)))
	b.waitFor("see Resume", `(function () { var b = document.querySelector('[data-testid="resume-queue"]'); return b !== null && b.textContent === "Resume" && document.querySelector('[data-testid="pause-queue"]') === null; })()`)
	if got := b.text(`[data-testid="queue-status"]`); got != "paused" {
		t.Errorf("queue badge = %q after pausing, want paused", got)
	}
	if q, err := st.Inspector.Queue(ctx, queue); err != nil || !q.Paused {
		t.Errorf("after the click the stored queue is %+v (%v), want paused", q, err)
	}
	b.screenshot("ux-queue-paused")
	b.do("resume the queue", chromedp.Click(chromedp.CSS(`[data-testid="resume-queue"]`)))
	b.waitFor("see Pause again", `(function () { var b = document.querySelector('[data-testid="pause-queue"]'); return b !== null && b.textContent === "Pause"; })()`)
	if q, err := st.Inspector.Queue(ctx, queue); err != nil || q.Paused {
		t.Errorf("after resuming the stored queue is %+v (%v), want running", q, err)
	}
	if !get(b, "check the page was not reloaded", chromedp.Evaluate[bool](`window.__e2eNoReload === true`)) {
		t.Error("the queue page reloaded; pause and resume should update it in place")
	}

	// Repeatables flip the same way.
	b.do("open the repeatables", chromedp.Navigate(b.url("/queues/"+queue+"/repeatables")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="pause-repeatable"]`)))
	b.do("pause the repeatable", chromedp.Click(chromedp.CSS(`[data-testid="pause-repeatable"]`)))
	b.waitFor("see the repeatable paused", `document.querySelector('[data-testid="resume-repeatable"]') !== null && document.querySelector('[data-toggle-badge]').textContent === "paused"`)

	// Dark mode: the system preference applies until the toggle chooses, and the choice is
	// remembered across pages.
	bg := func() string {
		return get(b, "read the background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	}
	b.do("open the metrics", chromedp.Navigate(b.url("/metrics")), chromedp.WaitVisible(chromedp.CSS(`[data-chart] canvas`)))
	light := bg()
	b.do("prefer dark", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	b.waitFor("see the system's dark theme", `getComputedStyle(document.body).backgroundColor !== "`+light+`"`)
	dark := bg()
	b.screenshot("ux-dark-system")
	b.do("prefer light", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
		return err
	}))
	b.waitFor("see light again", `getComputedStyle(document.body).backgroundColor === "`+light+`"`)
	b.do("toggle dark", chromedp.Click(chromedp.CSS(`[data-testid="theme-toggle"]`)))
	b.waitFor("see the chosen dark theme", `getComputedStyle(document.body).backgroundColor === "`+dark+`"`)
	b.do("open the queue in dark", chromedp.Navigate(b.url("/queues/"+queue)), chromedp.WaitVisible(chromedp.CSS(`[data-chart] canvas`)))
	if got := bg(); got != dark {
		t.Errorf("after navigating the background is %s, want the remembered dark %s", got, dark)
	}
	if got := get(b, "read the toggle", chromedp.Evaluate[string](`document.querySelector('[data-testid="theme-toggle"]').getAttribute("aria-pressed")`)); got != "true" {
		t.Errorf("theme toggle aria-pressed = %q in dark mode, want true", got)
	}
	time.Sleep(200 * time.Millisecond) // let the charts paint for the screenshot
	b.screenshot("ux-dark-queue")
	b.do("toggle light", chromedp.Click(chromedp.CSS(`[data-testid="theme-toggle"]`)))
	b.waitFor("see light chosen", `getComputedStyle(document.body).backgroundColor === "`+light+`"`)

	for _, p := range b.consoleProblems() {
		t.Errorf("console: %s", p)
	}
}
