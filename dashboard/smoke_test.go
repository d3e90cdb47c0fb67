package dashboard

import (
	"testing"

	"github.com/asyncmq/asyncmq/backend"
)

func TestSmoke(t *testing.T) {
	e := setup(t)
	e.add(job("emails", "send", `{"to":"a@b.c","password":"hunter2"}`))
	e.finishAll("emails", backend.OutcomeFailed, "boom token=abc", "stack here")
	e.add(job("emails", "send", `{"x":1}`), job("reports", "build", ``))
	for _, p := range []string{"/", "/queues", "/queues/emails", "/queues/emails/jobs", "/queues/emails/jobs?state=failed", "/queues/emails/dlq", "/queues/emails/repeatables", "/queues/emails/repeatables/new", "/workers", "/metrics", "/metrics/history", "/metrics/prometheus", "/audit", "/events/history", "/nope", "/static/app.css"} {
		r := e.get(p)
		t.Logf("%s -> %d %d bytes", p, r.status, len(r.body))
		if r.status >= 500 {
			t.Errorf("%s: %s", p, r.body)
		}
	}
	r := e.get("/queues/emails/dlq")
	t.Log(r.body)
}
