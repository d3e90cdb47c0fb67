package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TestEnqueueHeaders enqueues with --header and checks what job inspect and job list show, with
// the value of a secret-looking header hidden everywhere, in text and JSON.
func TestEnqueueHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const secret = "Bearer s3cr3t-value"
	enq := decode[asyncmqtype.JobInfo](t, f.mustRun("enqueue", "report", "--queue", "hq", "--json",
		"--header", "tenant=acme", "--header", "tracestate=a=b,c=d", "--header", "Authorization="+secret))
	want := map[string]string{"tenant": "acme", "tracestate": "a=b,c=d", "Authorization": "xxxxx"}
	if !maps.Equal(enq.Headers, want) {
		t.Fatalf("enqueue --json headers = %v, want %v", enq.Headers, want)
	}

	inspect := f.mustRun("job", "inspect", enq.ID)
	for _, line := range []string{"header tenant:", "acme", "header tracestate:", "a=b,c=d", "header Authorization:", "xxxxx"} {
		if !strings.Contains(inspect, line) {
			t.Fatalf("job inspect lacks %q:\n%s", line, inspect)
		}
	}
	d := decode[jobDetail](t, f.mustRun("job", "inspect", enq.ID, "--json"))
	if !maps.Equal(d.Headers, want) {
		t.Fatalf("job inspect --json headers = %v, want %v", d.Headers, want)
	}
	list := f.mustRun("job", "list", "--queue", "hq", "--json")
	if page := decode[jobPage](t, list); len(page.Jobs) != 1 || !maps.Equal(page.Jobs[0].Headers, want) {
		t.Fatalf("job list --json = %s, want the job with headers %v", list, want)
	}
	for what, out := range map[string]string{"inspect": inspect, "list": list} {
		if strings.Contains(out, "s3cr3t") {
			t.Fatalf("job %s shows the secret header's value:\n%s", what, out)
		}
	}
}

func TestEnqueueBadHeader(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		header string
		want   string
	}{
		{"novalue", `--header "novalue": want NAME=VALUE`},
		{"=s3cr3t", "--header with an empty name"},
		{"bad name=v", `"bad name"`},
		{"nl=a\nb", `"nl"`},
	}
	for _, tt := range tests {
		r := f.run("enqueue", "t", "--header", "ok=1", "--header", tt.header)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--header") || strings.Contains(r.stderr, "s3cr3t") {
			t.Errorf("--header %q: exit %d, stderr %q; want a usage error naming --header and %s", tt.header, r.code, r.stderr, tt.want)
		}
	}
	r := f.run("enqueue", "t", "--header", "a=1", "--header", "a=2")
	if r.code != 2 || !strings.Contains(r.stderr, `--header "a" given twice`) {
		t.Errorf("--header given twice: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := f.mustRun("job", "list", "--queue", "default", "--json"); strings.Contains(out, `"id"`) {
		t.Errorf("a refused enqueue stored a job: %s", out)
	}
}
