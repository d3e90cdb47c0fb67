package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestJobActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		state     asyncmqtype.State // the job's state before the action
		action    string
		wantState asyncmqtype.State
		wantLoc   string // Location relative to the mount; {id} is the job ID
		wantFlash string
		wantAudit string // audit status
	}{
		{"retry failed", asyncmqtype.StateFailed, "retry", asyncmqtype.StateWaiting, "/queues/q/jobs/{id}", "Job {id} retried.", auditSuccess},
		{"retry completed", asyncmqtype.StateCompleted, "retry", asyncmqtype.StateWaiting, "/queues/q/jobs/{id}", "retried", auditSuccess},
		{"cancel waiting", asyncmqtype.StateWaiting, "cancel", asyncmqtype.StateCancelled, "/queues/q/jobs/{id}", "cancelled", auditSuccess},
		{"cancel active requests", asyncmqtype.StateActive, "cancel", asyncmqtype.StateActive, "/queues/q/jobs/{id}", "Cancellation of job {id} requested", auditSuccess},
		{"promote delayed", asyncmqtype.StateDelayed, "promote", asyncmqtype.StateWaiting, "/queues/q/jobs/{id}", "promoted", auditSuccess},
		{"remove completed", asyncmqtype.StateCompleted, "remove", "gone", "/queues/q/jobs?state=completed", "Job {id} removed.", auditSuccess},
		{"delete alias", asyncmqtype.StateFailed, "delete", "gone", "/queues/q/jobs?state=failed", "removed", auditSuccess},
		{"retry waiting is refused", asyncmqtype.StateWaiting, "retry", asyncmqtype.StateWaiting, "/queues/q/jobs/{id}", "not applicable in its state", auditFailed},
		{"promote waiting is refused", asyncmqtype.StateWaiting, "promote", asyncmqtype.StateWaiting, "/queues/q/jobs/{id}", "not applicable", auditFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			j := jobIn(t, e, "q", tt.state)
			r := e.post("/queues/q/jobs/"+j.ID+"/"+tt.action, url.Values{})
			wantStatus(t, r, http.StatusSeeOther)
			wantLoc := e.base + strings.ReplaceAll(tt.wantLoc, "{id}", j.ID)
			if loc := r.header.Get("Location"); loc != wantLoc {
				t.Errorf("Location = %q, want %q", loc, wantLoc)
			}
			if got := e.state(j.ID); got != tt.wantState {
				t.Errorf("state = %s, want %s", got, tt.wantState)
			}
			page := e.follow(r)
			wantContains(t, page.body, `data-testid="flash"`, strings.ReplaceAll(tt.wantFlash, "{id}", j.ID))
			a := e.lastAudit()
			wantAction := "job." + tt.action
			if tt.action == "delete" {
				wantAction = "job.remove"
			}
			if a.Action != wantAction || a.Status != tt.wantAudit || a.Actor != anonymousActor || a.Queue != "q" || a.JobID != j.ID || a.Source != "jobs.single" {
				t.Errorf("audit = %+v, want %s %s by anonymous on q/%s from jobs.single", a, wantAction, tt.wantAudit, j.ID)
			}
			// The flash is shown once.
			again := e.get(strings.TrimPrefix(wantLoc, e.base))
			wantNotContains(t, again.body, `data-testid="flash"`)
		})
	}
}

// jobIn creates a job of queue in the given state.
func jobIn(t *testing.T, e *env, queue string, s asyncmqtype.State) *asyncmqtype.JobInfo {
	t.Helper()
	j := job(queue, "task", `{"n":1}`)
	if s == asyncmqtype.StateDelayed {
		j.RunAt = time.Now().Add(time.Hour)
	}
	e.add(j)
	switch s {
	case asyncmqtype.StateActive:
		e.claimAll(queue)
	case asyncmqtype.StateCompleted:
		e.finishAll(queue, asyncmqtype.OutcomeCompleted, "", "")
	case asyncmqtype.StateFailed:
		e.finishAll(queue, asyncmqtype.OutcomeFailed, "boom", "")
	case asyncmqtype.StateCancelled:
		e.finishAll(queue, asyncmqtype.OutcomeCancelled, "stopped", "")
	}
	if got := e.state(j.ID); got != s {
		t.Fatalf("fixture job is %s, want %s", got, s)
	}
	return j
}

func TestJobActionBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	other := jobIn(t, e, "other", asyncmqtype.StateFailed)
	tests := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"unknown action", "/queues/q/jobs/" + j.ID + "/explode", http.StatusBadRequest, "Unknown job action"},
		{"unknown job", "/queues/q/jobs/nope/retry", http.StatusNotFound, "Job not found"},
		{"job of another queue", "/queues/q/jobs/" + other.ID + "/retry", http.StatusNotFound, "Job not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(tt.path, url.Values{})
			wantStatus(t, r, tt.status)
			wantContains(t, r.body, tt.want)
		})
	}
	if e.state(other.ID) != asyncmqtype.StateFailed {
		t.Error("a job of another queue was retried through the wrong URL")
	}
	// GET on an action URL is not an action.
	wantStatus(t, e.get("/queues/q/jobs/"+j.ID+"/retry"), http.StatusNotFound)
	// A body over the form limit is refused, not read.
	big := url.Values{"return_to": {strings.Repeat("x", maxFormBytes+10)}}
	wantStatus(t, e.post("/queues/q/jobs/"+j.ID+"/retry", big), http.StatusBadRequest)
	if e.state(j.ID) != asyncmqtype.StateFailed {
		t.Error("a refused request changed the job")
	}
}

func TestJobActionResponseModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		action     string
		state      asyncmqtype.State
		hdr        []string
		form       url.Values
		wantStatus int
		check      func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response)
	}{
		{"json success", "retry", asyncmqtype.StateFailed, []string{"Accept", "application/json"}, nil, http.StatusOK,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				var body struct {
					OK      bool   `json:"ok"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal([]byte(r.body), &body); err != nil || !body.OK || !strings.Contains(body.Message, "retried") {
					t.Errorf("body = %s (%v)", r.body, err)
				}
			}},
		{"json refusal", "retry", asyncmqtype.StateWaiting, nil, url.Values{"_response": {"json"}}, http.StatusBadRequest,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				wantContains(t, r.body, `"ok":false`, "not applicable")
			}},
		{"htmx success is a flash fragment", "retry", asyncmqtype.StateFailed, []string{"HX-Request", "true", "HX-Target", "flash"}, nil, http.StatusOK,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				wantContains(t, r.body, `class="flash flash-success"`, "retried")
				wantNotContains(t, r.body, "<html")
				if r.header.Get("HX-Trigger") != "asyncmq:changed" {
					t.Errorf("HX-Trigger = %q", r.header.Get("HX-Trigger"))
				}
			}},
		{"htmx refusal is an error fragment", "promote", asyncmqtype.StateFailed, []string{"HX-Request", "true"}, nil, http.StatusBadRequest,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				wantContains(t, r.body, `class="flash flash-error"`, `role="alert"`)
			}},
		{"htmx remove navigates away", "remove", asyncmqtype.StateFailed, []string{"HX-Request", "true"}, nil, http.StatusOK,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				if got := r.header.Get("HX-Redirect"); got != e.base+"/queues/q/jobs?state=failed" {
					t.Errorf("HX-Redirect = %q", got)
				}
			}},
		{"return_to inside the dashboard is honoured", "retry", asyncmqtype.StateFailed, nil, url.Values{"return_to": {"/asyncmq/queues/q/dlq?page=2"}}, http.StatusSeeOther,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				if loc := r.header.Get("Location"); loc != "/asyncmq/queues/q/dlq?page=2" {
					t.Errorf("Location = %q", loc)
				}
			}},
		{"return_to elsewhere falls back to the dashboard root", "retry", asyncmqtype.StateFailed, nil, url.Values{"return_to": {"//evil.example/x"}}, http.StatusSeeOther,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				if loc := r.header.Get("Location"); loc != "/asyncmq/" {
					t.Errorf("Location = %q, want /asyncmq/", loc)
				}
			}},
		{"return_to with a scheme falls back", "retry", asyncmqtype.StateFailed, nil, url.Values{"return_to": {"https://evil.example/asyncmq/"}}, http.StatusSeeOther,
			func(t *testing.T, e *env, j *asyncmqtype.JobInfo, r response) {
				if loc := r.header.Get("Location"); loc != "/asyncmq/" {
					t.Errorf("Location = %q, want /asyncmq/", loc)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			j := jobIn(t, e, "q", tt.state)
			form := tt.form
			if form == nil {
				form = url.Values{}
			}
			r := e.post("/queues/q/jobs/"+j.ID+"/"+tt.action, form, tt.hdr...)
			wantStatus(t, r, tt.wantStatus)
			tt.check(t, e, j, r)
		})
	}
}

func TestJobPanelFragment(t *testing.T) {
	t.Parallel()
	e := setup(t)
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	r := e.get("/queues/q/jobs/"+j.ID, "HX-Request", "true", "HX-Target", "job-panel")
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<section id="job-panel"`) {
		t.Errorf("fragment does not start with the panel:\n%s", truncate(300, r.body))
	}
	wantNotContains(t, r.body, "<html", "<nav")
	// A target the page does not define gets the full page, not an error.
	full := e.get("/queues/q/jobs/"+j.ID, "HX-Request", "true", "HX-Target", "sidebar")
	wantStatus(t, full, http.StatusOK)
	wantContains(t, full.body, "<html")
	list := e.get("/queues/q/jobs?state=failed", "HX-Request", "true", "HX-Target", "job-list")
	wantContains(t, list.body, `<section id="job-list"`, j.ID)
	wantNotContains(t, list.body, "<html")
}

func TestQueueActions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("pause and resume", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.add(job("q", "t", ""))
		r := e.post("/queues/q", url.Values{"action": {"pause"}})
		wantStatus(t, r, http.StatusSeeOther)
		wantContains(t, e.follow(r).body, "Queue q paused.", `data-testid="resume-queue"`)
		if qi, _ := e.insp.Queue(ctx, "q"); !qi.Paused {
			t.Error("queue not paused")
		}
		r = e.post("/queues/q", url.Values{"action": {"resume"}, "source": {"queues.list"}, "return_to": {"/asyncmq/queues"}})
		if loc := r.header.Get("Location"); loc != "/asyncmq/queues" {
			t.Errorf("Location = %q", loc)
		}
		wantContains(t, e.follow(r).body, "Queue q resumed.")
		if qi, _ := e.insp.Queue(ctx, "q"); qi.Paused {
			t.Error("queue still paused")
		}
		if a := e.lastAudit(); a.Action != actQueueResume || a.Source != "queues.list" || a.Status != auditSuccess {
			t.Errorf("audit = %+v", a)
		}
	})
	t.Run("drain asks first", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		w := job("q", "t", "")
		d := job("q", "t", "")
		d.RunAt = time.Now().Add(time.Hour)
		e.add(w, d)
		r := e.post("/queues/q", url.Values{"action": {"drain"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `data-testid="confirm-page"`, "Drain queue q?", "every waiting and waiting-children job", `name="confirm" value="yes"`, `name="action" value="drain"`)
		wantCSPSafe(t, r.body)
		if e.state(w.ID) != asyncmqtype.StateWaiting {
			t.Fatal("drained before confirmation")
		}
		r = e.post("/queues/q", url.Values{"action": {"drain"}, "confirm": {"yes"}})
		wantStatus(t, r, http.StatusSeeOther)
		wantContains(t, e.follow(r).body, "Drained queue q: 1 job deleted.")
		if e.state(w.ID) != "gone" || e.state(d.ID) != asyncmqtype.StateDelayed {
			t.Errorf("after drain: waiting job %s, delayed job %s", e.state(w.ID), e.state(d.ID))
		}
		r = e.post("/queues/q", url.Values{"action": {"drain"}, "confirm": {"yes"}, "include_delayed": {"1"}})
		wantStatus(t, r, http.StatusSeeOther)
		if e.state(d.ID) != "gone" {
			t.Error("include_delayed kept the delayed job")
		}
	})
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		j := jobIn(t, e, "q", asyncmqtype.StateCompleted)
		r := e.post("/queues/q", url.Values{"action": {"clean"}, "state": {"completed"}, "grace": {"0"}, "limit": {"10"}})
		wantContains(t, r.body, "Clean queue q?", "completed jobs of queue q")
		r = e.post("/queues/q", url.Values{"action": {"clean"}, "state": {"completed"}, "grace": {"0s"}, "limit": {"0"}, "confirm": {"yes"}})
		wantStatus(t, r, http.StatusSeeOther)
		if e.state(j.ID) != "gone" {
			t.Error("clean kept the completed job")
		}
		if a := e.lastAudit(); a.Action != actQueueClean || a.Detail != "state=completed grace=0s limit=0" {
			t.Errorf("audit = %+v", a)
		}
	})
	t.Run("obliterate", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		jobIn(t, e, "q", asyncmqtype.StateActive)
		r := e.post("/queues/q", url.Values{"action": {"obliterate"}, "confirm": {"yes"}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/asyncmq/queues/q" {
			t.Errorf("refused obliterate went to %q", loc)
		}
		wantContains(t, e.follow(r).body, "The queue has active jobs")
		if a := e.lastAudit(); a.Status != auditFailed || a.Action != actQueueObliterate {
			t.Errorf("audit = %+v", a)
		}
		r = e.post("/queues/q", url.Values{"action": {"obliterate"}, "confirm": {"yes"}, "force": {"1"}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/asyncmq/queues" {
			t.Errorf("Location = %q", loc)
		}
		if _, err := e.insp.Queue(ctx, "q"); err == nil {
			t.Error("queue still exists")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.add(job("q", "t", ""))
		for _, tt := range []struct {
			path string
			form url.Values
			want int
		}{
			{"/queues/q", url.Values{"action": {"explode"}}, http.StatusBadRequest},
			{"/queues/q", url.Values{}, http.StatusBadRequest},
			{"/queues/q", url.Values{"action": {"clean"}, "state": {"waiting"}}, http.StatusBadRequest},
			{"/queues/q", url.Values{"action": {"clean"}, "state": {"failed"}, "grace": {"soon"}}, http.StatusBadRequest},
			{"/queues/q", url.Values{"action": {"clean"}, "state": {"failed"}, "limit": {"-1"}}, http.StatusBadRequest},
			{"/queues/nope", url.Values{"action": {"pause"}}, http.StatusNotFound},
			{"/queues/q", url.Values{"action": {"drain"}, "_response": {"json"}}, http.StatusBadRequest},
		} {
			r := e.post(tt.path, tt.form)
			if r.status != tt.want {
				t.Errorf("POST %s %v: status %d, want %d", tt.path, tt.form, r.status, tt.want)
			}
		}
		if _, err := e.insp.Queue(ctx, "nope"); err == nil {
			t.Error("pausing an unknown queue created it")
		}
	})
}

func TestBulkActions(t *testing.T) {
	t.Parallel()
	t.Run("selected jobs after confirmation", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		a, b, c := job("q", "t", ""), job("q", "t", ""), job("q", "t", "")
		e.add(a, b, c)
		e.finishAll("q", asyncmqtype.OutcomeFailed, "boom", "")
		form := url.Values{"action": {"retry"}, "scope": {"selected"}, "state": {"failed"}, "job_id": {a.ID, b.ID, a.ID, " "}}
		r := e.post("/queues/q/jobs", form)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, "Retry 2 selected jobs?", `value="`+a.ID+`"`, `value="`+b.ID+`"`, "Retry 2 jobs")
		if e.state(a.ID) != asyncmqtype.StateFailed {
			t.Fatal("applied before confirmation")
		}
		form.Set("confirm", "yes")
		r = e.post("/queues/q/jobs", form)
		wantStatus(t, r, http.StatusSeeOther)
		wantContains(t, e.follow(r).body, "Retried 2 of 2 jobs.")
		if e.state(a.ID) != asyncmqtype.StateWaiting || e.state(b.ID) != asyncmqtype.StateWaiting || e.state(c.ID) != asyncmqtype.StateFailed {
			t.Errorf("states: %s %s %s", e.state(a.ID), e.state(b.ID), e.state(c.ID))
		}
		if au := e.lastAudit(); au.Action != actJobRetry || au.Source != "jobs.bulk" || !strings.Contains(au.Detail, a.ID) {
			t.Errorf("audit = %+v", au)
		}
	})
	t.Run("all matching a filter shows the count", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		var keep []*asyncmqtype.JobInfo
		for i := range 5 {
			task := "send"
			if i == 4 {
				task = "other"
			}
			j := job("q", task, "")
			keep = append(keep, j)
			e.add(j)
		}
		e.finishAll("q", asyncmqtype.OutcomeFailed, "boom", "")
		form := url.Values{"action": {"remove"}, "scope": {"matching"}, "state": {"failed"}, "task": {"send"}}
		r := e.post("/queues/q/jobs", form)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, "Remove all 4 failed jobs matching the filter?", "Remove 4 jobs")
		form.Set("confirm", "yes")
		r = e.post("/queues/q/jobs", form)
		wantStatus(t, r, http.StatusSeeOther)
		wantContains(t, e.follow(r).body, "Removed 4 of 4 jobs.")
		if e.state(keep[0].ID) != "gone" || e.state(keep[4].ID) != asyncmqtype.StateFailed {
			t.Error("the filter was not applied")
		}
		if au := e.lastAudit(); !strings.Contains(au.Detail, `task="send"`) || !strings.Contains(au.Detail, "4 jobs") {
			t.Errorf("audit detail = %q", au.Detail)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.add(job("q", "t", ""))
		many := make([]string, maxSelected+1)
		for i := range many {
			many[i] = "id" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		}
		for _, tt := range []struct {
			name string
			form url.Values
			want int
			body string
		}{
			{"nothing selected", url.Values{"action": {"retry"}}, http.StatusBadRequest, "Select at least one job"},
			{"unknown action", url.Values{"action": {"explode"}, "job_id": {"x"}}, http.StatusBadRequest, "Unknown bulk action"},
			{"unknown state", url.Values{"action": {"retry"}, "scope": {"matching"}, "state": {"nope"}}, http.StatusBadRequest, "Unknown job state"},
			{"too many", url.Values{"action": {"retry"}, "job_id": many}, http.StatusBadRequest, "At most 1000 jobs"},
		} {
			r := e.post("/queues/q/jobs", tt.form)
			if r.status != tt.want || !strings.Contains(r.body, tt.body) {
				t.Errorf("%s: status %d, body lacks %q", tt.name, r.status, tt.body)
			}
		}
	})
	t.Run("dead letters", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		a, b := job("q", "t", ""), job("q", "t", "")
		e.add(a, b)
		e.finishAll("q", asyncmqtype.OutcomeFailed, "boom", "")
		w := job("q", "t", "")
		e.add(w)
		r := e.post("/queues/q/dlq", url.Values{"action": {"retry"}, "scope": {"matching"}, "confirm": {"yes"}, "state": {"waiting"}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/asyncmq/queues/q/dlq" {
			t.Errorf("Location = %q", loc)
		}
		if e.state(a.ID) != asyncmqtype.StateWaiting || e.state(b.ID) != asyncmqtype.StateWaiting {
			t.Error("dead letters not retried")
		}
		if au := e.lastAudit(); au.Source != "dlq.bulk" || !strings.Contains(au.Detail, "state=failed") {
			t.Errorf("audit = %+v (the dead-letter page must only touch failed jobs)", au)
		}
		wantStatus(t, e.post("/queues/q/dlq", url.Values{"action": {"promote"}, "job_id": {w.ID}}), http.StatusBadRequest)
	})
}

func TestRepeatableActions(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.add(job("q", "t", ""))
		r := e.post("/queues/q/repeatables/new", url.Values{"task": {"report"}, "every": {"90s"}, "payload": {`{"token":"rep-secret"}`}, "priority": {"2"}})
		wantStatus(t, r, http.StatusSeeOther)
		page := e.follow(r)
		wantContains(t, page.body, "report", "every 1m30s", "created; first run")
		wantNotContains(t, page.body, "rep-secret")
		rs, _ := e.insp.Repeatables(context.Background(), "q")
		if len(rs) != 1 || rs[0].Interval != 90*time.Second || rs[0].Priority != 2 {
			t.Fatalf("stored repeatables = %+v", rs)
		}
		if a := e.lastAudit(); a.Action != actRepeatableCreate || a.Status != auditSuccess {
			t.Errorf("audit = %+v", a)
		}
	})
	t.Run("invalid forms say why", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.add(job("q", "t", ""))
		for _, tt := range []struct {
			form url.Values
			want string
		}{
			{url.Values{"task": {"r"}, "every": {"0"}}, "Every must be a positive number"},
			{url.Values{"task": {"r"}}, "Give an interval or a cron expression."},
			{url.Values{"task": {"r"}, "every": {"5m"}, "cron": {"@hourly"}}, "not both"},
			{url.Values{"task": {"r"}, "cron": {"61 * * * *"}}, "invalid cron expression"},
			{url.Values{"task": {"r"}, "every": {"500ms"}}, "at least 1s"},
			{url.Values{"every": {"5m"}}, "Task is required."},
			{url.Values{"task": {"r"}, "every": {"5m"}, "payload": {"{nope"}}, "Payload must be valid JSON"},
			{url.Values{"task": {"r"}, "every": {"5m"}, "priority": {"high"}}, "Must be a whole number"},
		} {
			r := e.post("/queues/q/repeatables/new", tt.form)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, tt.want) {
				t.Errorf("%v: status %d, body lacks %q", tt.form, r.status, tt.want)
			}
			wantContains(t, r.body, `aria-invalid="true"`)
			if a := e.lastAudit(); a.Action != actRepeatableCreate || a.Status != auditFailed {
				t.Errorf("audit = %+v", a)
			}
		}
		// Several problems are audited in field order, so the entry reads the same every time.
		e.post("/queues/q/repeatables/new", url.Values{"every": {"0"}})
		if a := e.lastAudit(); !strings.HasPrefix(a.Error, "every: ") || !strings.HasSuffix(a.Error, "; task: Task is required.") {
			t.Errorf("audit error = %q, want every's problem then task's", a.Error)
		}
		if rs, _ := e.insp.Repeatables(context.Background(), "q"); len(rs) != 0 {
			t.Errorf("invalid forms stored %d repeatables", len(rs))
		}
	})
	t.Run("pause resume remove", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.add(job("q", "t", ""))
		r := e.post("/queues/q/repeatables/new", url.Values{"task": {"report"}, "cron": {"@hourly"}})
		wantStatus(t, r, http.StatusSeeOther)
		rs, _ := e.insp.Repeatables(context.Background(), "q")
		id := rs[0].ID
		r = e.post("/queues/q/repeatables", url.Values{"action": {"pause"}, "id": {id}})
		wantStatus(t, r, http.StatusSeeOther)
		if rs, _ := e.insp.Repeatables(context.Background(), "q"); !rs[0].Paused {
			t.Error("not paused")
		}
		wantStatus(t, e.post("/queues/q/repeatables", url.Values{"action": {"resume"}, "id": {id}}), http.StatusSeeOther)
		r = e.post("/queues/q/repeatables", url.Values{"action": {"remove"}, "id": {id}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, "Remove repeatable "+id+"?")
		wantStatus(t, e.post("/queues/q/repeatables", url.Values{"action": {"remove"}, "id": {id}, "confirm": {"yes"}}), http.StatusSeeOther)
		if rs, _ := e.insp.Repeatables(context.Background(), "q"); len(rs) != 0 {
			t.Error("not removed")
		}
		wantStatus(t, e.post("/queues/q/repeatables", url.Values{"action": {"pause"}, "id": {id}}), http.StatusNotFound)
		wantStatus(t, e.post("/queues/q/repeatables", url.Values{"action": {"explode"}, "id": {id}}), http.StatusBadRequest)
		wantStatus(t, e.post("/queues/q/repeatables", url.Values{"action": {"pause"}}), http.StatusBadRequest)
	})
}

func TestFlashWithSessions(t *testing.T) {
	t.Parallel()
	e := setup(t, withSessions())
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	r := e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{})
	wantStatus(t, r, http.StatusSeeOther)
	for _, c := range strings.Split(strings.Join(r.header.Values("Set-Cookie"), ";"), ";") {
		if strings.HasPrefix(strings.TrimSpace(c), flashCookie+"=") {
			t.Error("the flash went to a cookie although sessions are on")
		}
	}
	wantContains(t, e.follow(r).body, "Job "+j.ID+" retried.")
	wantNotContains(t, e.follow(r).body, "retried.")
}

func TestForgedFlashCookieIsIgnored(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.get("/", "Cookie", flashCookie+"=ZXJyb3IKWW91ciBzZXNzaW9uIGV4cGlyZWQ.forged")
	wantStatus(t, r, http.StatusOK)
	wantNotContains(t, r.body, `data-testid="flash"`)
}
