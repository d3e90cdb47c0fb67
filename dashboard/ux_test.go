package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestDurationPercentile(t *testing.T) {
	t.Parallel()
	n := len(asyncmqtype.DurationBuckets) + 1
	counts := func(kv ...int) []int64 {
		c := make([]int64, n)
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = int64(kv[i+1])
		}
		return c
	}
	tests := []struct {
		name   string
		counts []int64
		q      float64
		want   float64
	}{
		{"empty", counts(), 0.5, 0},
		// 100 runs in (0, 5ms]: the median is halfway through the bucket.
		{"first bucket median", counts(0, 100), 0.5, 2.5},
		// 50 in (0,5ms] and 50 in (5,10ms]: p95 is 90% into the second bucket.
		{"second bucket p95", counts(0, 50, 1, 50), 0.95, 9.5},
		{"p99 in (1s, 2.5s]", counts(0, 98, 8, 2), 0.99, 1750},
		// The last bucket has no bound: its floor is reported.
		{"overflow", counts(n-1, 10), 0.99, 60000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := durationPercentile(tt.counts, tt.q); got != tt.want {
				t.Errorf("durationPercentile(q=%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestShortID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"j1":                                   "j1",
		"0123456789ab":                         "0123456789ab",
		"019af3c2-7d10-7000-8000-0123456789ab": "…456789ab",
		"ключ-ключ-ключ":                       "…люч-ключ",
		"ключ":                                 "ключ",
		"abcdé-abcdé-abcdé":                    "…dé-abcdé",
	} {
		if got := shortID(in); got != want {
			t.Errorf("shortID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueueRateLimit(t *testing.T) {
	t.Parallel()
	operator := []string{"X-Test-User", "olga", "X-Test-Roles", "operator"}
	viewer := []string{"X-Test-User", "victor", "X-Test-Roles", "viewer"}
	tests := []struct {
		name       string
		hdr        []string
		form       url.Values
		wantStatus int
		wantLimit  int
		wantPer    time.Duration
		wantAudit  string
	}{
		{"set", operator, url.Values{"limit": {"5"}, "per": {"2s"}}, http.StatusSeeOther, 5, 2 * time.Second, auditSuccess},
		{"off", operator, url.Values{"limit": {"5"}, "per": {"2s"}, "off": {"1"}}, http.StatusSeeOther, 0, 0, auditSuccess},
		{"zero is off", operator, url.Values{"limit": {"0"}, "per": {"junk"}}, http.StatusSeeOther, 0, 0, auditSuccess},
		{"viewer refused", viewer, url.Values{"limit": {"5"}, "per": {"1s"}}, http.StatusForbidden, 3, time.Second, auditDenied},
		{"bad limit", operator, url.Values{"limit": {"-1"}, "per": {"1s"}}, http.StatusBadRequest, 3, time.Second, ""},
		{"bad interval", operator, url.Values{"limit": {"5"}, "per": {"0s"}}, http.StatusBadRequest, 3, time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, withRoles())
			jobIn(t, e, "q", asyncmqtype.StateWaiting)
			if err := e.insp.SetRateLimit(t.Context(), "q", 3, time.Second); err != nil {
				t.Fatal(err)
			}
			form := url.Values{"action": {"rate-limit"}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := e.post("/queues/q", form, tt.hdr...)
			wantStatus(t, r, tt.wantStatus)
			q, err := e.insp.Queue(t.Context(), "q")
			if err != nil {
				t.Fatal(err)
			}
			if q.RateLimit != tt.wantLimit || (tt.wantLimit > 0 && q.RateInterval != tt.wantPer) {
				t.Errorf("stored rate limit = %d per %s, want %d per %s", q.RateLimit, q.RateInterval, tt.wantLimit, tt.wantPer)
			}
			if tt.wantAudit == "" {
				return
			}
			if a := e.lastAudit(); a.Action != actQueueRateLimit || a.Status != tt.wantAudit || a.Queue != "q" {
				t.Errorf("audit = %+v, want %s %s on q", a, actQueueRateLimit, tt.wantAudit)
			}
		})
	}
}

func TestQueuePageShowsStatsAndControls(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	jobIn(t, e, "q", asyncmqtype.StateCompleted)
	operator := []string{"X-Test-User", "olga", "X-Test-Roles", "operator"}
	r := e.get("/queues/q", operator...)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.body, `data-testid="queue-stats"`, "Run time p50", `data-chart="percentiles"`, `data-chart="wait"`,
		`data-testid="rate-limit-form"`, `name="action" value="rate-limit"`, `data-toggle-form data-pause-queue="q"`, "no rate limit")
	wantCSPSafe(t, r.body)
	// A viewer sees the numbers but not the form.
	r = e.get("/queues/q", "X-Test-User", "v", "X-Test-Roles", "viewer")
	wantStatus(t, r, http.StatusOK)
	wantNotContains(t, r.body, `data-testid="rate-limit-form"`)

	// The history JSON carries the percentiles the charts draw.
	r = e.get("/metrics/history?queue=q", operator...)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.body, `"p50_ms":`, `"p95_ms":`, `"p99_ms":`, `"avg_wait_ms":`)
}

func TestJobPageNumbersAttemptsAcrossRetries(t *testing.T) {
	t.Parallel()
	e := setup(t)
	j := job("q", "t", `{}`)
	j.Errors = []asyncmqtype.AttemptError{
		{Attempt: 1, At: time.Now().UTC(), Error: "first"},
		{Attempt: 1, At: time.Now().UTC(), Error: "after a manual retry"},
	}
	j.State = asyncmqtype.StateFailed
	e.add(j)
	r := e.get("/queues/q/jobs/" + j.ID)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r.body, "Attempt 1 ·", "Attempt 2 <span class=\"muted\">(attempt 1 after a retry)</span>", `data-copy="`+j.ID+`"`)
	if n := strings.Count(r.body, "Attempt 1 "); n != 1 {
		t.Errorf("the page shows %d entries numbered Attempt 1, want 1", n)
	}
}
