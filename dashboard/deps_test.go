package dashboard

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TestWaitingChildrenPages checks that a job blocked on a parent is listed under its own
// waiting-children tab with its count, not under waiting; that its page names the parent, the
// parent's state and the policy; and that the JSON API returns and accepts the state as
// openapi.json documents it.
func TestWaitingChildrenPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	parent := job("etl", "extract", `{}`)
	child := job("etl", "load", `{}`)
	child.DependsOn, child.OnParentFailure = []string{parent.ID}, asyncmqtype.ParentFailureWait
	e.add(parent)
	e.add(child)

	r := e.get("/queues/etl/jobs?state=waiting-children")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, child.ID) || strings.Contains(r.body, parent.ID) {
		t.Fatalf("waiting-children listing should show only the child %s:\n%s", child.ID, r.body)
	}
	if !strings.Contains(r.body, `data-state-tab="waiting-children"`) || !strings.Contains(r.body, `data-state="waiting-children">1<`) {
		t.Fatalf("jobs page lacks the waiting-children tab with its count:\n%s", r.body)
	}
	r = e.get("/queues/etl/jobs?state=waiting")
	if strings.Contains(r.body, child.ID) || !strings.Contains(r.body, parent.ID) {
		t.Fatalf("waiting listing should show the parent and not the blocked child:\n%s", r.body)
	}

	r = e.get("/queues/etl/jobs/" + child.ID)
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{parent.ID, `state-waiting"`, "<strong>wait</strong>", `state-waiting-children"`} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("job page lacks %q:\n%s", want, r.body)
		}
	}

	doc := map[string]any{}
	d := json.NewDecoder(strings.NewReader(e.get("/api/v1/openapi.json").body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c := &schemaChecker{doc: doc}
	jobSchema := map[string]any{"$ref": "#/components/schemas/Job"}
	r = e.get("/api/v1/queues/etl/jobs?state=waiting-children")
	wantStatus(t, r, http.StatusOK)
	var page struct{ Jobs []json.RawMessage }
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || len(page.Jobs) != 1 {
		t.Fatalf("API listing: %v\n%s", err, r.body)
	}
	r = e.get("/api/v1/jobs/" + child.ID)
	wantStatus(t, r, http.StatusOK)
	for _, raw := range []string{string(page.Jobs[0]), r.body} {
		var v any
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		for _, problem := range c.check("$", v, jobSchema) {
			t.Errorf("%s", problem)
		}
	}
	if !strings.Contains(r.body, `"state":"waiting-children"`) || !strings.Contains(r.body, `"on_parent_failure":"wait"`) || !strings.Contains(r.body, `"pending_deps":1`) {
		t.Errorf("API job lacks its state, policy or pending parents: %s", r.body)
	}
}
