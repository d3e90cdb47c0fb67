package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// The API test validates real responses against openapi.json with schemaChecker below: a
// focused JSON Schema check of the keywords the document uses ($ref, type with null, properties,
// required, additionalProperties, items, enum, const, date-time, minimum/maximum). A general
// OpenAPI library (kin-openapi and its half-dozen dependencies) would enter go.mod of every
// program that imports asyncmq, for a test; this check is small, and it is strict where it
// matters: additionalProperties false on every object catches an undocumented field.

type schemaChecker struct {
	doc map[string]any
}

func (c *schemaChecker) resolve(s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		cur := any(c.doc)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		s = cur.(map[string]any)
	}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// check returns the places where v does not match schema s.
func (c *schemaChecker) check(path string, v any, s map[string]any) []string {
	s = c.resolve(s)
	var errs []string
	if t, ok := s["type"]; ok {
		var allowed []string
		switch tt := t.(type) {
		case string:
			allowed = []string{tt}
		case []any:
			for _, x := range tt {
				allowed = append(allowed, x.(string))
			}
		}
		got := jsonType(v)
		if !slices.Contains(allowed, got) && !(got == "integer" && slices.Contains(allowed, "number")) {
			return []string{fmt.Sprintf("%s: %s, want %v", path, got, allowed)}
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v not in %v", path, v, e))
	}
	if cst, ok := s["const"]; ok && fmt.Sprint(cst) != fmt.Sprint(v) {
		errs = append(errs, fmt.Sprintf("%s: %v, want %v", path, v, cst))
	}
	if s["format"] == "date-time" {
		if str, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date-time", path, str))
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing required %q", path, r))
			}
		}
		for k, val := range x {
			if ps, ok := props[k]; ok {
				errs = append(errs, c.check(path+"."+k, val, ps.(map[string]any))...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: undocumented field %q", path, k))
				}
			case map[string]any:
				errs = append(errs, c.check(path+"."+k, val, ap)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range x {
				errs = append(errs, c.check(fmt.Sprintf("%s[%d]", path, i), it, items)...)
			}
		}
	}
	return errs
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// routeOf finds the document's path template matching a request path.
func routeOf(doc map[string]any, method, path string) (string, map[string]any) {
	for tmpl, item := range doc["paths"].(map[string]any) {
		re := "^" + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		if regexp.MustCompile(re).MatchString(path) {
			if op, ok := item.(map[string]any)[strings.ToLower(method)]; ok {
				return tmpl, op.(map[string]any)
			}
		}
	}
	return "", nil
}

func TestAPIResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	ctx := context.Background()
	admin := []string{"X-Test-User", "ada", "X-Test-Roles", "admin"}
	viewer := []string{"X-Test-User", "vic", "X-Test-Roles", "viewer"}

	r := e.get("/api/v1/openapi.json", admin...)
	wantStatus(t, r, http.StatusOK)
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(fmt.Sprint(doc["openapi"]), "3.") {
		t.Fatalf("openapi = %v, want 3.x", doc["openapi"])
	}
	c := &schemaChecker{doc: doc}

	// Fixtures: a failed job with a secret in its payload, a waiting one, a repeatable, a worker.
	failed := job("emails", "email.send", `{"to":"ada@example.com","password":"hunter2"}`)
	failed.Headers = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Authorization": "Bearer hunter3"}
	e.add(failed)
	e.finishAll("emails", asyncmqtype.OutcomeFailed, "boom", "stack")
	waiting := job("emails", "email.send", `{}`)
	e.add(waiting)
	rep, err := e.insp.CreateRepeatable(ctx, asyncmq.RepeatableSpec{Queue: "emails", Task: "digest", Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Heartbeat(ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w1", Hostname: "h1", Queues: []string{"emails"}, Concurrency: 4}}); err != nil {
		t.Fatal(err)
	}

	// The document itself was fetched above and is an object.
	covered := map[string]bool{"GET /api/v1/openapi.json": true}
	call := func(method, path, body string, status int, hdr ...string) string {
		t.Helper()
		var resp response
		if method == http.MethodGet {
			resp = e.get(path, hdr...)
		} else {
			resp = e.doJSON(method, path, body, hdr...)
		}
		if resp.status != status {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.status, status, resp.body)
		}
		if ct := resp.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s Content-Type = %q", method, path, ct)
		}
		p := strings.SplitN(path, "?", 2)[0]
		tmpl, op := routeOf(doc, method, p)
		if op == nil {
			t.Fatalf("%s %s is not in openapi.json", method, p)
		}
		covered[method+" "+tmpl] = true
		rs, ok := op["responses"].(map[string]any)[fmt.Sprint(status)].(map[string]any)
		if !ok {
			t.Fatalf("%s %s: status %d is not documented", method, tmpl, status)
		}
		rs = c.resolve(rs)
		schema := rs["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		var v any
		d := json.NewDecoder(strings.NewReader(resp.body))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, resp.body)
		}
		for _, problem := range c.check("$", v, schema) {
			t.Errorf("%s %s: %s", method, path, problem)
		}
		return resp.body
	}

	call("GET", "/api/v1/queues", "", 200, admin...)
	body := call("GET", "/api/v1/queues/emails", "", 200, viewer...)
	if !strings.Contains(body, `"p95_ms"`) {
		t.Errorf("queue detail lacks percentiles: %s", body)
	}
	call("GET", "/api/v1/queues/nope", "", 404, admin...)
	body = call("GET", "/api/v1/queues/emails/jobs?state=failed&limit=5", "", 200, viewer...)
	if !strings.Contains(body, failed.ID) {
		t.Errorf("job list lacks %s: %s", failed.ID, body)
	}
	call("GET", "/api/v1/queues/emails/jobs?state=bogus", "", 400, viewer...)
	call("GET", "/api/v1/queues/emails/jobs?limit=x", "", 400, viewer...)
	body = call("GET", "/api/v1/jobs/"+failed.ID, "", 200, viewer...)
	if strings.Contains(body, "hunter2") || !strings.Contains(body, "[redacted]") || strings.Contains(body, "lease") {
		t.Errorf("job is not redacted: %s", body)
	}
	if strings.Contains(body, "hunter3") || !strings.Contains(body, `"headers":{"Authorization":"[redacted]","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`) {
		t.Errorf("job's headers are missing or not redacted: %s", body)
	}
	call("GET", "/api/v1/jobs/missing", "", 404, viewer...)
	call("GET", "/api/v1/repeatables?queue=emails", "", 200, viewer...)
	body = call("GET", "/api/v1/workers", "", 200, viewer...)
	if !strings.Contains(body, `"health":"healthy"`) {
		t.Errorf("workers: %s", body)
	}
	call("GET", "/api/v1/metrics?minutes=15&queue=emails", "", 200, viewer...)
	call("GET", "/api/v1/metrics?minutes=0", "", 400, viewer...)
	body = call("GET", "/api/v1/metrics?queue=emails&by=task", "", 200, viewer...)
	if !strings.Contains(body, `"tasks":[{"queue":"emails","task":"email.send","completed":0,"failed":1,`) {
		t.Errorf("metrics by task lack email.send: %s", body)
	}
	body = call("GET", "/api/v1/metrics?queue=emails&task=nope&by=task", "", 200, viewer...)
	if !strings.Contains(body, `"task":"nope","tasks":[]`) {
		t.Errorf("metrics of an unknown task: %s", body)
	}
	call("GET", "/api/v1/metrics?by=queue", "", 400, viewer...)

	// Changes: roles, audit, stored state, malformed bodies.
	call("POST", "/api/v1/queues/emails/pause", "", 403, viewer...)
	if a := e.lastAudit(); a.Action != actQueuePause || a.Status != auditDenied || a.Source != apiSource {
		t.Errorf("denied pause audit = %+v", a)
	}
	call("POST", "/api/v1/queues/emails/pause", "", 200, admin...)
	if q, _ := e.insp.Queue(ctx, "emails"); !q.Paused {
		t.Error("pause through the API did not pause the queue")
	}
	if a := e.lastAudit(); a.Action != actQueuePause || a.Status != auditSuccess || a.Actor != "ada" || a.Source != apiSource {
		t.Errorf("pause audit = %+v", a)
	}
	call("POST", "/api/v1/queues/emails/resume", "", 200, admin...)
	call("POST", "/api/v1/queues/emails/rate-limit", `{"limit":5,"per":"2s"}`, 200, admin...)
	if q, _ := e.insp.Queue(ctx, "emails"); q.RateLimit != 5 || q.RateInterval != 2*time.Second {
		t.Errorf("rate limit = %d per %s, want 5 per 2s", q.RateLimit, q.RateInterval)
	}
	call("POST", "/api/v1/queues/emails/rate-limit", `{"limit":"5"}`, 400, admin...)
	call("POST", "/api/v1/queues/emails/rate-limit", `{"limit":5,"per":"2s","bogus":1}`, 400, admin...)
	call("POST", "/api/v1/queues/emails/bogus", "", 404, admin...)
	call("POST", "/api/v1/jobs/"+failed.ID+"/retry", "", 200, admin...)
	if got := e.state(failed.ID); got != asyncmqtype.StateWaiting {
		t.Errorf("retried job is %s, want waiting", got)
	}
	call("POST", "/api/v1/jobs/"+failed.ID+"/promote", "", 400, admin...)
	call("POST", "/api/v1/repeatables/"+rep.ID+"/pause", "", 200, admin...)
	call("POST", "/api/v1/repeatables/nope/pause", "", 404, admin...)
	body = call("POST", "/api/v1/queues/emails/drain", `{"include_delayed":true}`, 200, admin...)
	if !strings.Contains(body, `"count":2`) {
		t.Errorf("drain answer %s, want count 2", body)
	}
	call("POST", "/api/v1/queues/emails/clean", `{"state":"completed","grace":"0s","limit":10}`, 200, admin...)
	call("POST", "/api/v1/queues/emails/obliterate", `{"force":true}`, 200, admin...)

	for tmpl, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if k := strings.ToUpper(method) + " " + tmpl; !covered[k] {
				t.Errorf("the test does not exercise %s", k)
			}
		}
	}
}

func TestAPIRefusesWithoutCredentialsAndCrossOrigin(t *testing.T) {
	t.Parallel()
	e := setup(t, withRoles())
	e.add(job("q", "t", `{}`))
	r := e.get("/api/v1/queues")
	if r.status != http.StatusUnauthorized && r.status != http.StatusSeeOther {
		t.Errorf("anonymous GET = %d, want 401 or a redirect to login", r.status)
	}
	// A browser's cross-site POST is refused before it reaches the API.
	r = e.do("POST", "/api/v1/queues/q/pause", nil, "X-Test-User", "ada", "X-Test-Roles", "admin", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", r.status)
	}
	if q, _ := e.insp.Queue(context.Background(), "q"); q.Paused {
		t.Error("a cross-site POST paused the queue")
	}
}

// doJSON sends what a script sends: a JSON body when given, and no Origin header, as curl does.
func (e *env) doJSON(method, path, body string, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// The test backend authenticates X-Test-User; the bearer header is what marks a script to
	// the admin gate's same-origin rule.
	req.Header.Set("Authorization", "Bearer test")
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
