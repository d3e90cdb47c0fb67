package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestRoleEnforcement(t *testing.T) {
	t.Parallel()
	type request struct {
		name   string
		path   string
		form   url.Values
		action string
	}
	// Each request is built against a fresh fixture; {id} is a failed job and {rep} a repeatable.
	requests := []request{
		{"retry job", "/queues/q/jobs/{id}/retry", url.Values{}, actJobRetry},
		{"remove job", "/queues/q/jobs/{id}/remove", url.Values{}, actJobRemove},
		{"bulk retry", "/queues/q/dlq", url.Values{"action": {"retry"}, "job_id": {"{id}"}, "confirm": {"yes"}}, actJobRetry},
		{"pause queue", "/queues/q", url.Values{"action": {"pause"}}, actQueuePause},
		{"drain queue", "/queues/q", url.Values{"action": {"drain"}, "confirm": {"yes"}}, actQueueDrain},
		{"clean queue", "/queues/q", url.Values{"action": {"clean"}, "state": {"failed"}, "confirm": {"yes"}}, actQueueClean},
		{"obliterate queue", "/queues/q", url.Values{"action": {"obliterate"}, "confirm": {"yes"}}, actQueueObliterate},
		{"create repeatable", "/queues/q/repeatables/new", url.Values{"task": {"r"}, "every": {"60"}}, actRepeatableCreate},
		{"pause repeatable", "/queues/q/repeatables", url.Values{"action": {"pause"}, "id": {"{rep}"}}, actRepeatablePause},
		{"remove repeatable", "/queues/q/repeatables", url.Values{"action": {"remove"}, "id": {"{rep}"}, "confirm": {"yes"}}, actRepeatableRemove},
	}
	users := []struct {
		roles   string
		allowed map[string]bool
	}{
		{"viewer", map[string]bool{}},
		{"asyncmq:viewer", map[string]bool{}},
		{"operator", map[string]bool{actJobRetry: true, actJobRemove: true, actQueuePause: true}},
		{"asyncmq:operator,viewer", map[string]bool{actJobRetry: true, actJobRemove: true, actQueuePause: true}},
		{"admin", nil},
		{"asyncmq:admin", nil},
	}
	for _, u := range users {
		for _, rq := range requests {
			t.Run(u.roles+"/"+rq.name, func(t *testing.T) {
				t.Parallel()
				e := setup(t, withRoles())
				j := jobIn(t, e, "q", asyncmqtype.StateFailed)
				rep, err := e.insp.CreateRepeatable(context.Background(), asyncmq.RepeatableSpec{Queue: "q", Task: "r", Cron: "@hourly"})
				if err != nil {
					t.Fatal(err)
				}
				path := strings.ReplaceAll(rq.path, "{id}", j.ID)
				form := url.Values{}
				for k, vs := range rq.form {
					for _, v := range vs {
						form.Add(k, strings.NewReplacer("{id}", j.ID, "{rep}", rep.ID).Replace(v))
					}
				}
				r := e.post(path, form, "X-Test-User", "u-"+u.roles, "X-Test-Roles", u.roles)
				a := e.lastAudit()
				if a.Actor != "u-"+u.roles || a.Action != rq.action {
					t.Errorf("audit = %+v, want %s by u-%s", a, rq.action, u.roles)
				}
				if u.allowed == nil || u.allowed[rq.action] {
					if r.status != http.StatusSeeOther || a.Status != auditSuccess {
						t.Errorf("allowed action: status %d, audit %q; body %s", r.status, a.Status, truncate(400, r.body))
					}
					return
				}
				wantStatus(t, r, http.StatusForbidden)
				wantContains(t, r.body, "does not allow "+rq.action, `data-testid="error-page"`)
				if a.Status != auditDenied {
					t.Errorf("audit status = %q, want denied", a.Status)
				}
				if got := e.state(j.ID); got != asyncmqtype.StateFailed {
					t.Errorf("a denied action changed the job to %s", got)
				}
				if qi, _ := e.insp.Queue(context.Background(), "q"); qi.Paused {
					t.Error("a denied action paused the queue")
				}
			})
		}
	}
}

func TestRoleButtonsAreHidden(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	tests := []struct {
		roles   string
		path    string
		want    []string
		notWant []string
	}{
		{"viewer", "/queues/q/jobs/" + j.ID, nil, []string{`data-testid="job-retry"`, `data-testid="job-remove"`}},
		{"operator", "/queues/q/jobs/" + j.ID, []string{`data-testid="job-retry"`, `data-testid="job-remove"`}, nil},
		{"viewer", "/queues", nil, []string{`data-testid="pause-queue"`}},
		{"operator", "/queues", []string{`data-testid="pause-queue"`}, nil},
		{"operator", "/queues/q", []string{`data-testid="pause-queue"`}, []string{"Drain…", "Obliterate…"}},
		{"admin", "/queues/q", []string{"Drain…", "Clean…", "Obliterate…"}, nil},
		{"viewer", "/queues/q/dlq", nil, []string{`data-testid="bulk-retry-selected"`, `data-select-all`}},
		{"operator", "/queues/q/dlq", []string{`data-testid="bulk-retry-selected"`}, nil},
		{"operator", "/queues/q/repeatables", nil, []string{`data-testid="new-repeatable"`}},
		{"admin", "/queues/q/repeatables", []string{`data-testid="new-repeatable"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.roles+tt.path, func(t *testing.T) {
			t.Parallel()
			r := e.get(tt.path, "X-Test-User", "u1", "X-Test-Roles", tt.roles)
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, tt.want...)
			wantNotContains(t, r.body, tt.notWant...)
			wantContains(t, r.body, `data-testid="current-user"`, "User u1", `data-role="`+tt.roles+`"`, `data-testid="logout"`)
		})
	}
}

func TestRolesOffLetsEveryUserAct(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles(), withConfig(Config{Roles: false}))
	// withConfig replaced the Config set by withRoles, so roles are off while login stays on.
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	r := e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}, "X-Test-User", "plain", "X-Test-Roles", "viewer")
	wantStatus(t, r, http.StatusSeeOther)
	if a := e.lastAudit(); a.Actor != "plain" || a.Status != auditSuccess {
		t.Errorf("audit = %+v", a)
	}
}

func TestAnonymousWhenLoginIsOff(t *testing.T) {
	t.Parallel()
	// Roles on but login off: there is no user to hold a role, so the gate is the only guard.
	e := setup(t, withConfig(Config{Roles: true}))
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	wantStatus(t, e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}), http.StatusSeeOther)
	if a := e.lastAudit(); a.Actor != anonymousActor {
		t.Errorf("actor = %q, want anonymous", a.Actor)
	}
}

func TestAuditPageFilters(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	as := func(roles string) []string { return []string{"X-Test-User", "u-" + roles, "X-Test-Roles", roles} }
	e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}, as("viewer")...)
	e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}, as("operator")...)
	e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}, as("operator")...)
	tests := []struct {
		query   string
		want    []string
		notWant []string
	}{
		// The job link's text is the bare ID, as on every other page.
		{"", []string{`">` + j.ID + "</a>", "u-viewer", "u-operator", "denied", "success", "failed"}, []string{">job " + j.ID}},
		{"?status=denied", []string{"u-viewer"}, []string{"u-operator"}},
		{"?actor=u-operator&status=failed", []string{"<details>", "not applicable"}, []string{"u-viewer"}},
		{"?action=job.retry&queue=q&q=" + j.ID, []string{"u-viewer", "u-operator"}, nil},
		{"?queue=other", []string{"No audit entries match."}, nil},
	}
	for _, tt := range tests {
		r := e.get("/audit"+tt.query, "X-Test-User", "reader", "X-Test-Roles", "viewer")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, tt.want...)
		wantNotContains(t, r.body, tt.notWant...)
	}
}

func TestCrossOriginChangesAreRefusedBeforeTheDashboard(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	j := jobIn(t, e, "q", asyncmqtype.StateFailed)
	user := []string{"X-Test-User", "ops", "X-Test-Roles", "admin"}
	for _, tt := range []struct {
		name string
		hdr  []string
	}{
		{"foreign origin", []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
	} {
		r := e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}, append(user, tt.hdr...)...)
		wantStatus(t, r, http.StatusForbidden)
		if e.state(j.ID) != asyncmqtype.StateFailed {
			t.Fatalf("%s: the job changed", tt.name)
		}
	}
	if es := e.auditEntries(); len(es) != 0 {
		t.Errorf("refused requests reached the dashboard: %+v", es)
	}
	// The same request from the dashboard's own origin goes through.
	wantStatus(t, e.post("/queues/q/jobs/"+j.ID+"/retry", url.Values{}, user...), http.StatusSeeOther)
}
