package dashboard

import (
	"net/http"
	"strings"
	"testing"
)

// TestJobPageHeaders checks the job page's Headers panel: every header by name, the values of
// secret-looking names (and of the dashboard's redact keys) hidden, and no panel for a job without
// headers.
func TestJobPageHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	with := job("emails", "email.send", `{}`)
	with.Headers = map[string]string{
		"traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tenant":       "acme <b>corp</b>",
		"Cookie":       "sid=hunter4",
		"x-api-key":    "hunter5",
		"private_key":  "hunter6",
		"callback-url": "https://u:hunter7@example.com/hook",
	}
	without := job("emails", "email.send", `{}`)
	e.add(with, without)

	r := e.get("/queues/emails/jobs/" + with.ID)
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{
		`data-testid="job-headers"`, "<h3>Headers</h3>",
		`<dt class="mono">traceparent</dt><dd class="mono">00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01</dd>`,
		`<dt class="mono">tenant</dt><dd class="mono">acme &lt;b&gt;corp&lt;/b&gt;</dd>`,
		`<dt class="mono">Cookie</dt><dd class="mono">[redacted]</dd>`,
		`<dt class="mono">x-api-key</dt><dd class="mono">[redacted]</dd>`,
		`<dt class="mono">private_key</dt><dd class="mono">[redacted]</dd>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("job page lacks %q:\n%s", want, r.body)
		}
	}
	for _, secret := range []string{"hunter4", "hunter5", "hunter6", "hunter7"} {
		if strings.Contains(r.body, secret) {
			t.Errorf("job page shows the secret %q", secret)
		}
	}

	r = e.get("/queues/emails/jobs/" + without.ID)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(r.body, `data-testid="job-headers"`) {
		t.Errorf("the page of a job without headers has a Headers panel")
	}
	r = e.get("/api/v1/jobs/" + without.ID)
	if strings.Contains(r.body, `"headers"`) {
		t.Errorf("the API shows headers for a job without any: %s", r.body)
	}
}
