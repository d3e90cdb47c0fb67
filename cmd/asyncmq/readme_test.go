package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// readmeAPIExample returns the curl commands of the README's API example, one per entry, with
// continuation lines joined.
func readmeAPIExample(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- api-example")
	if !ok {
		t.Fatal("README.md has no api-example block")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, _ := strings.Cut(rest, "```")
	block = strings.ReplaceAll(block, "\\\n", " ")
	var cmds []string
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, "curl ") {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// TestREADMEAPIExample runs the README's curl lines, as written, against `asyncmq serve` with a
// token from `asyncmq token issue`, and checks what they changed.
func TestREADMEAPIExample(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	f := setup(t)
	f.env["ASYNCMQ_JWT_SECRET"] = testSecret
	f.mustRun("enqueue", "email.send", `{}`, "--queue", "emails")
	s := f.serve("--workers", "0")
	tok := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "ci", "--role", "operator", "--ttl", "1h", "--raw"))
	cmds := readmeAPIExample(t)
	if len(cmds) < 3 {
		t.Fatalf("README API example has %d curl lines: %q", len(cmds), cmds)
	}
	for _, c := range cmds {
		c = strings.ReplaceAll(c, "http://127.0.0.1:8000", s.url)
		c = strings.Replace(c, "curl ", curl+" --max-time 10 ", 1)
		cmd := exec.Command("sh", "-c", c)
		cmd.Env = append(os.Environ(), "TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s\nserve: %s", c, err, out, s.errOut.String())
		}
		if !strings.HasPrefix(strings.TrimSpace(string(out)), "{") {
			t.Errorf("%s printed %q, want JSON", c, out)
		}
	}
	q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "emails", "--json"))
	if !q.Paused || q.RateLimit != 10 || q.RateInterval != time.Second {
		t.Fatalf("after the README's calls the queue is %+v, want paused with 10 per 1s", q)
	}
	var api int
	for _, e := range f.audits() {
		if e.Source == "api" && e.Actor == "ci" && e.Status == "success" {
			api++
		}
	}
	if api != 2 {
		t.Errorf("audit log has %d API changes by ci, want 2 (pause, rate-limit)", api)
	}
}
