package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/internal/e2e"
)

// TestBrowserPauseWhenLiveCountsComeFirst: the live counts that follow a pause (the dashboard
// sends them as soon as the queue is paused) may reach the page before the pause's own answer,
// which comes late when the machine is busy. The counts flip the page to paused first; the
// answer must then leave it paused, not flip it back to running by reading the form the counts
// already changed. The stack delays the answers of every queue action to make the order sure.
func TestBrowserPauseWhenLiveCountsComeFirst(t *testing.T) {
	t.Parallel()
	delay := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/queues/"+queue) {
				// The answer is still buffered: it leaves when the handler returns.
				time.Sleep(time.Second)
			}
		})
	}
	b := setupBrowserWrapped(t, asyncmq.HandlerFunc(func(context.Context, *asyncmq.Job) error { return nil }), delay)
	st := b.stack
	if _, err := st.Client.Enqueue(t.Context(), "t", nil, asyncmq.Queue(queue)); err != nil {
		t.Fatal(err)
	}
	token, err := st.Token(e2e.TokenParams{Subject: "e2e-admin", Name: "E2E Admin", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	b.do("sign in", chromedp.Navigate(b.url("/")), chromedp.WaitVisible(chromedp.CSS("textarea#token")),
		chromedp.SetValue(chromedp.CSS("textarea#token"), token),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="overview-totals"]`)))
	b.do("open the queue", chromedp.Navigate(b.url("/queues/"+queue)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="pause-queue"]`)))
	b.waitFor("the live stream is open", `document.getElementById("live-status").getAttribute("data-state") === "live"`)
	b.do("pause the queue", chromedp.Click(chromedp.CSS(`[data-testid="pause-queue"]`)))
	b.waitFor("see the answer", `document.querySelector("#flash").textContent.indexOf("paused") >= 0`)
	resumeShown := `(function () { var b = document.querySelector('[data-testid="resume-queue"]'); return b !== null && b.textContent === "Resume" && document.querySelector('[data-testid="pause-queue"]') === null; })()`
	if !get(b, "read the button after the answer", chromedp.Evaluate[bool](resumeShown)) {
		b.failure("the button after the answer")
		t.Fatalf("after the pause's answer the page shows Pause again (queue status %q)", b.text(`[data-testid="queue-status"]`))
	}
	if got := b.text(`[data-testid="queue-status"]`); got != "paused" {
		t.Errorf("queue badge = %q after pausing, want paused", got)
	}
}
