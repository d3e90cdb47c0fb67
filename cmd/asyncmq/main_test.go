package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

// quiet drops the verifier's warning that testSecret is printable text.
var quiet = slog.New(slog.DiscardHandler)

// testSecret is an HS256 secret of the required 32 bytes.
const testSecret = "0123456789abcdef0123456789abcdef-test"

// fixture runs asyncmq commands in-process against a fresh SQLite store.
type fixture struct {
	t          *testing.T
	dir        string
	backendURL string
	env        map[string]string
}

// setup returns a fixture over a new, empty SQLite store: the file exists, as read-only
// commands and serve without --demo refuse to create one.
func setup(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "asyncmq.db")
	createStore(t, path)
	return &fixture{t: t, dir: dir, backendURL: "sqlite://" + path, env: map[string]string{}}
}

// createStore creates an empty, migrated SQLite store at path.
func createStore(t *testing.T, path string) {
	t.Helper()
	b, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// result is what one command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// syncBuffer is a bytes.Buffer safe for a server goroutine writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (f *fixture) getenv(k string) (string, bool) {
	v, ok := f.env[k]
	return v, ok
}

// runIn runs one command line with stdin, adding --backend unless args name one.
func (f *fixture) runIn(stdin string, args ...string) result {
	f.t.Helper()
	var out, errOut syncBuffer
	a := newApp(strings.NewReader(stdin), &out, &errOut, f.getenv)
	if !hasFlag(args, "--backend") {
		args = append([]string{"--backend", f.backendURL}, args...)
	}
	code := run(context.Background(), a, args)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func (f *fixture) run(args ...string) result {
	f.t.Helper()
	return f.runIn("", args...)
}

// mustRun runs a command that must succeed and returns its standard output.
func (f *fixture) mustRun(args ...string) string {
	f.t.Helper()
	r := f.run(args...)
	if r.code != 0 {
		f.t.Fatalf("asyncmq %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode JSON output %q: %v", s, err)
	}
	return v
}

func TestEnqueueThenListAndInspect(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := strings.TrimSpace(f.mustRun("enqueue", "email.send", `{"to":"ada@example.com"}`, "--queue", "mail", "--priority", "2", "--max-retries", "7"))
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("enqueue printed %q, want one job ID", id)
	}

	page := decode[jobPage](t, f.mustRun("job", "list", "--queue", "mail", "--state", "waiting", "--json"))
	if page.Total != 1 || len(page.Jobs) != 1 || page.Jobs[0].ID != id {
		t.Fatalf("job list --json = %+v, want the one job %s", page, id)
	}
	j := page.Jobs[0]
	var payload bytes.Buffer
	if err := json.Compact(&payload, j.Payload); err != nil {
		t.Fatal(err)
	}
	if j.Task != "email.send" || j.Priority != 2 || j.MaxRetries != 7 || payload.String() != `{"to":"ada@example.com"}` {
		t.Fatalf("stored job %+v does not carry the enqueue options", j)
	}

	table := f.mustRun("job", "list", "--queue", "mail")
	if !strings.Contains(table, id) || !strings.Contains(table, "email.send") || !strings.Contains(table, "page 1 of 1 (1 waiting jobs") {
		t.Fatalf("job list table:\n%s", table)
	}

	inspect := f.mustRun("job", "inspect", id)
	for _, want := range []string{"id:", id, "task:", "email.send", "state:", "waiting", `{"to":"ada@example.com"}`} {
		if !strings.Contains(inspect, want) {
			t.Fatalf("job inspect output lacks %q:\n%s", want, inspect)
		}
	}
	got := decode[asyncmqtype.JobInfo](t, f.mustRun("job", "inspect", id, "--json"))
	if got.ID != id || got.Queue != "mail" {
		t.Fatalf("job inspect --json = %+v", got)
	}

	enq := decode[asyncmqtype.JobInfo](t, f.mustRun("enqueue", "report.build", "--queue", "mail", "--delay", "1h", "--json"))
	if enq.State != asyncmqtype.StateDelayed || enq.ID == "" {
		t.Fatalf("enqueue --delay --json = %+v, want a delayed job", enq)
	}
	f.mustRun("job", "promote", enq.ID)
	if j := decode[asyncmqtype.JobInfo](t, f.mustRun("job", "inspect", enq.ID, "--json")); j.State != asyncmqtype.StateWaiting {
		t.Fatalf("after promote the job is %s, want waiting", j.State)
	}
}

func TestEnqueueUnique(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("enqueue", "t", "--unique", "k1")
	r := f.run("enqueue", "t", "--unique", "k1")
	if r.code != 1 || !strings.Contains(r.stderr, "duplicate") {
		t.Fatalf("second enqueue with the same unique key: exit %d, stderr %q; want exit 1 naming the duplicate", r.code, r.stderr)
	}
}

func TestQueuePauseResume(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("enqueue", "t", "--queue", "q1")
	f.mustRun("enqueue", "t", "--queue", "q1")

	f.mustRun("queue", "pause", "q1")
	if q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "q1", "--json")); !q.Paused || q.Counts[asyncmqtype.StateWaiting] != 2 {
		t.Fatalf("after pause: %+v, want paused with 2 waiting", q)
	}
	list := f.mustRun("queue", "list")
	if !strings.Contains(list, "q1") || !strings.Contains(list, "yes") {
		t.Fatalf("queue list after pause:\n%s", list)
	}
	f.mustRun("queue", "resume", "q1")
	if q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "q1", "--json")); q.Paused {
		t.Fatalf("after resume: %+v, want not paused", q)
	}

	out := f.mustRun("queue", "drain", "q1")
	if !strings.Contains(out, "2 jobs deleted") {
		t.Fatalf("queue drain: %q", out)
	}
}

func TestJobBulkActionsFromStdin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var ids []string
	for range 3 {
		ids = append(ids, strings.TrimSpace(f.mustRun("enqueue", "t", "--queue", "bulk")))
	}
	r := f.runIn(strings.Join(ids, "\n")+"\nnot-a-job\n", "job", "cancel", "-", "--json")
	if r.code != 0 {
		t.Fatalf("job cancel -: exit %d: %s", r.code, r.stderr)
	}
	res := decode[jobActionResult](t, r.stdout)
	if res.Requested != 4 || res.Changed != 3 {
		t.Fatalf("job cancel result %+v, want 3 of 4 changed", res)
	}
	q := decode[asyncmqtype.QueueInfo](t, f.mustRun("queue", "info", "bulk", "--json"))
	if q.Counts[asyncmqtype.StateCancelled] != 3 {
		t.Fatalf("queue after cancel: %+v, want 3 cancelled", q.Counts)
	}
	// A single ID says exactly why nothing happened.
	r = f.run("job", "promote", ids[0])
	if r.code != 1 || !strings.Contains(r.stderr, "the job is cancelled; promote applies only to delayed jobs") {
		t.Fatalf("promote of a cancelled job: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestBadSettingsExitNonZero(t *testing.T) {
	t.Parallel()
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 400), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{name: "unknown backend scheme", args: []string{"--backend", "bogus://x", "queue", "list"}, wantCode: 2, wantErr: []string{"--backend", "bogus://x"}},
		{name: "backend variable", env: map[string]string{"ASYNCMQ_BACKEND": "nope"}, args: []string{"queue", "list"}, wantCode: 2, wantErr: []string{"ASYNCMQ_BACKEND"}},
		{name: "unreadable database file", args: []string{"--backend", "sqlite://" + garbage, "queue", "list"}, wantCode: 1, wantErr: []string{"--backend", "garbage.db"}},
		{name: "invalid cron", args: []string{"repeatable", "create", "t", "--cron", "61 * * * *"}, wantCode: 2, wantErr: []string{"--cron", "61 * * * *"}},
		{name: "cron and interval", args: []string{"repeatable", "create", "t", "--cron", "@hourly", "--every", "1m"}, wantCode: 2, wantErr: []string{"exactly one of --cron and --every"}},
		{name: "unknown flag", args: []string{"queue", "list", "--bogus"}, wantCode: 2, wantErr: []string{"--bogus"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantErr: []string{"frobnicate"}},
		{name: "unknown subcommand", args: []string{"queue", "frobnicate"}, wantCode: 2, wantErr: []string{`unknown command "frobnicate"`}},
		{name: "missing argument", args: []string{"enqueue"}, wantCode: 2, wantErr: []string{"arg"}},
		{name: "bad payload", args: []string{"enqueue", "t", "{nope"}, wantCode: 2, wantErr: []string{"payload", "not valid JSON"}},
		{name: "bad delay", args: []string{"enqueue", "t", "--delay", "soon"}, wantCode: 2, wantErr: []string{"--delay"}},
		{name: "unknown state", args: []string{"job", "list", "--queue", "q", "--state", "sleeping"}, wantCode: 2, wantErr: []string{"--state", "sleeping"}},
		{name: "page zero", args: []string{"job", "list", "--queue", "q", "--page", "0"}, wantCode: 2, wantErr: []string{"--page"}},
		{name: "clean a live state", args: []string{"queue", "clean", "q", "--state", "waiting"}, wantCode: 2, wantErr: []string{"--state", "waiting"}},
		{name: "bad log level", args: []string{"--log-level", "loud", "queue", "list"}, wantCode: 2, wantErr: []string{"--log-level", "loud"}},
		{name: "bad worker queues", args: []string{"worker", "--queues", "a=0"}, wantCode: 2, wantErr: []string{"--queues", "a=0"}},
		{name: "job not found", args: []string{"job", "inspect", "nope"}, wantCode: 1, wantErr: []string{"nope", "not found"}},
		{name: "serve auth none on a public address", args: []string{"serve", "--auth", "none", "--addr", "0.0.0.0:0"}, wantCode: 2, wantErr: []string{"--auth", "--insecure"}},
		{name: "serve unknown auth", args: []string{"serve", "--auth", "magic"}, wantCode: 2, wantErr: []string{"--auth", "magic"}},
		{name: "serve jwt without key", args: []string{"serve", "--auth", "jwt", "--addr", "127.0.0.1:0"}, wantCode: 2, wantErr: []string{"ASYNCMQ_JWT_SECRET"}},
		{name: "serve proxy without trusted proxies", args: []string{"serve", "--auth", "proxy", "--addr", "127.0.0.1:0"}, wantCode: 2, wantErr: []string{"--trusted-proxies"}},
		{name: "serve bad variable", env: map[string]string{"ASYNCMQ_WORKERS": "lots"}, args: []string{"serve"}, wantCode: 2, wantErr: []string{"ASYNCMQ_WORKERS", "lots"}},
		{name: "serve bad address", args: []string{"serve", "--auth", "none", "--addr", "nowhere"}, wantCode: 2, wantErr: []string{"--addr", "nowhere"}},
		{name: "serve bad allowed host", args: []string{"serve", "--auth", "none", "--addr", "127.0.0.1:0", "--allowed-hosts", "https://ops.example"}, wantCode: 2, wantErr: []string{"--allowed-hosts", "ASYNCMQ_ALLOWED_HOSTS"}},
		{name: "token without secret", args: []string{"token", "issue"}, wantCode: 2, wantErr: []string{"ASYNCMQ_JWT_SECRET"}},
		{name: "token with a short secret", env: map[string]string{"ASYNCMQ_JWT_SECRET": "short"}, args: []string{"token", "issue"}, wantCode: 2, wantErr: []string{"secret"}},
		{name: "keygen unknown algorithm", args: []string{"token", "keygen", "--alg", "XS1", "--out", t.TempDir()}, wantCode: 2, wantErr: []string{"--alg", "XS1"}},
		{name: "users on memory backend", args: []string{"--backend", "memory://", "users", "list"}, wantCode: 2, wantErr: []string{"--users-db"}},
		{name: "users db bad URL", args: []string{"users", "list", "--users-db", "mysql://u:hunter2@h/db"}, wantCode: 2, wantErr: []string{"--users-db", "xxxxx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			for k, v := range tt.env {
				f.env[k] = v
			}
			args := tt.args
			if _, ok := tt.env["ASYNCMQ_BACKEND"]; ok {
				// Let the variable speak: no --backend flag.
				var out, errOut syncBuffer
				code := run(context.Background(), newApp(strings.NewReader(""), &out, &errOut, f.getenv), args)
				checkFailure(t, result{stdout: out.String(), stderr: errOut.String(), code: code}, tt.wantCode, tt.wantErr)
				return
			}
			checkFailure(t, f.run(args...), tt.wantCode, tt.wantErr)
		})
	}
}

func checkFailure(t *testing.T, r result, code int, wantErr []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wantErr {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr %q does not mention %q", r.stderr, w)
		}
	}
	if strings.Contains(r.stderr, "hunter2") {
		t.Fatalf("stderr leaks a password: %q", r.stderr)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	f := setup(t)
	out := f.mustRun("version")
	if !strings.HasPrefix(out, "asyncmq ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version output %q", out)
	}
	v := decode[versionInfo](t, f.mustRun("version", "--json"))
	if v.Version == "" || !strings.HasPrefix(v.Go, "go1.") {
		t.Fatalf("version --json = %+v", v)
	}
}

func TestTokenIssueVerifiesWithJWTAuth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.env["ASYNCMQ_JWT_SECRET"] = testSecret
	out := f.mustRun("token", "issue", "--sub", "alice", "--name", "Alice", "--role", "operator", "--role", "viewer", "--aud", "asyncmq-admin", "--iss", "https://issuer.example", "--ttl", "5m")
	tok, ok := strings.CutPrefix(strings.TrimSpace(out), "Authorization: Bearer ")
	if !ok {
		t.Fatalf("token issue printed %q, want an Authorization header line", out)
	}
	v, err := jwtauth.NewVerifier(context.Background(), jwtauth.Config{Secret: []byte(testSecret), Audience: "asyncmq-admin", Issuer: "https://issuer.example", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	if got.Subject != "alice" || got.Name != "Alice" || strings.Join(got.Roles, ",") != "operator,viewer" || got.IsAdmin {
		t.Fatalf("verified token %+v", got)
	}
	if ttl := time.Until(got.ExpiresAt); ttl > 5*time.Minute || ttl < 4*time.Minute {
		t.Fatalf("token expires in %s, want about 5m", ttl)
	}

	raw := strings.TrimSpace(f.mustRun("token", "issue", "--admin", "--raw"))
	if strings.Count(raw, ".") != 2 || strings.Contains(raw, " ") {
		t.Fatalf("--raw printed %q, want a bare compact JWT", raw)
	}
	v2, err := jwtauth.NewVerifier(context.Background(), jwtauth.Config{Secret: []byte(testSecret), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if got, err := v2.Verify(context.Background(), raw); err != nil || !got.IsAdmin || got.Subject != "admin" {
		t.Fatalf("--admin token: %+v, %v", got, err)
	}
}

func TestTokenKeygenAndSignWithKey(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			dir := filepath.Join(f.dir, "keys")
			f.mustRun("token", "keygen", "--alg", alg, "--out", dir)

			info, err := os.Stat(filepath.Join(dir, "private.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Fatalf("private.pem mode %v, want 0600", info.Mode().Perm())
			}
			jwks := decode[struct {
				Keys []map[string]any `json:"keys"`
			}](t, readFile(t, filepath.Join(dir, "jwks.json")))
			if len(jwks.Keys) != 1 || jwks.Keys[0]["alg"] != alg || jwks.Keys[0]["use"] != "sig" || jwks.Keys[0]["kid"] == "" {
				t.Fatalf("jwks.json keys %+v", jwks.Keys)
			}
			if _, ok := jwks.Keys[0]["d"]; ok {
				t.Fatal("jwks.json holds the private key")
			}

			tok := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "bob", "--key", filepath.Join(dir, "private.pem"), "--raw"))
			v, err := jwtauth.NewVerifier(context.Background(), jwtauth.Config{PublicKeyFile: filepath.Join(dir, "public.pem")})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if got, err := v.Verify(context.Background(), tok); err != nil || got.Subject != "bob" {
				t.Fatalf("token signed with the generated key: %+v, %v", got, err)
			}

			r := f.run("token", "keygen", "--alg", alg, "--out", dir)
			if r.code != 1 || !strings.Contains(r.stderr, "--force") {
				t.Fatalf("keygen over existing files: exit %d, stderr %q; want a refusal mentioning --force", r.code, r.stderr)
			}
			f.mustRun("token", "keygen", "--alg", alg, "--out", dir, "--force")
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUsersLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("users", "add", "alice", "--email", "alice@example.com", "--name", "Alice", "--role", "operator")
	f.mustRun("users", "add", "root", "--admin")
	if r := f.run("users", "add", "alice"); r.code != 1 || !strings.Contains(r.stderr, "alice") {
		t.Fatalf("adding alice twice: exit %d, stderr %q", r.code, r.stderr)
	}

	list := decode[[]userJSON](t, f.mustRun("users", "list", "--json"))
	if len(list) != 2 || list[0].ID != "alice" || !list[0].Active || list[0].Admin || strings.Join(list[0].Roles, ",") != "operator" || !list[1].Admin {
		t.Fatalf("users list --json = %+v", list)
	}

	f.mustRun("users", "disable", "alice")
	if list := decode[[]userJSON](t, f.mustRun("users", "list", "--json")); list[0].Active {
		t.Fatalf("alice still active after disable: %+v", list[0])
	}
	f.mustRun("users", "enable", "alice")
	if list := decode[[]userJSON](t, f.mustRun("users", "list", "--json")); !list[0].Active {
		t.Fatalf("alice not active after enable: %+v", list[0])
	}

	if r := f.runIn("short\n", "users", "set-password", "alice"); r.code != 2 || !strings.Contains(r.stderr, "shorter than") {
		t.Fatalf("short password: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := f.runIn("correct horse battery\n", "users", "set-password", "alice"); r.code != 0 {
		t.Fatalf("set-password: exit %d, stderr %q", r.code, r.stderr)
	}
	table := f.mustRun("users", "list")
	if !strings.Contains(table, "alice@example.com") || strings.Contains(table, "argon2") {
		t.Fatalf("users list table:\n%s", table)
	}
	if r := f.run("users", "set-password", "nobody"); r.code != 1 || !strings.Contains(r.stderr, "nobody") {
		t.Fatalf("set-password of an unknown user: exit %d, stderr %q", r.code, r.stderr)
	}

	f.mustRun("users", "remove", "alice")
	if list := decode[[]userJSON](t, f.mustRun("users", "list", "--json")); len(list) != 1 {
		t.Fatalf("after remove: %+v", list)
	}
}

func TestBenchJSONOnMemory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	out := f.mustRun("bench", "--backend", "memory://", "--jobs", "300", "--producers", "2", "--concurrency", "8", "--json")
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("bench --json output %q: %v", out, err)
	}
	for _, k := range []string{"enqueue_jobs_per_s", "process_jobs_per_s", "latency_p50_ms", "latency_p99_ms"} {
		v, ok := m[k].(float64)
		if !ok || v <= 0 {
			t.Errorf("bench --json %s = %v, want a positive number", k, m[k])
		}
	}
	human := f.mustRun("bench", "--backend", "memory://", "--jobs", "100", "--bulk")
	for _, w := range []string{"enqueue:", "jobs/s", "latency p99:"} {
		if !strings.Contains(human, w) {
			t.Fatalf("bench output lacks %q:\n%s", w, human)
		}
	}
	// --cpuprofile writes a profile that go tool pprof reads: a gzip stream.
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	f.mustRun("bench", "--backend", "memory://", "--jobs", "100", "--cpuprofile", prof)
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatalf("bench --cpuprofile: %v", err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("bench --cpuprofile wrote %d bytes, not a gzipped profile", len(data))
	}
}

// server is an `asyncmq serve` running in-process.
type server struct {
	url    string // http://127.0.0.1:PORT
	out    *syncBuffer
	errOut *syncBuffer
	stop   func() int
}

// serve starts `asyncmq serve` with args on a free port and stops it at the end of the test.
func (f *fixture) serve(args ...string) *server {
	f.t.Helper()
	s, err := f.startServe(args...)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// startServe starts `asyncmq serve` with args on a free port, registers its stop with the test's
// cleanup, and returns an error when it exits or stays silent instead of listening. Stopping a
// server that already exited returns its exit code at once.
func (f *fixture) startServe(args ...string) (*server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	a := newApp(strings.NewReader(""), out, errOut, f.getenv)
	addr := make(chan net.Addr, 1)
	a.onListen = func(ad net.Addr) { addr <- ad }
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, a, append([]string{"--backend", f.backendURL, "serve", "--addr", "127.0.0.1:0"}, args...))
	}()
	s := &server{out: out, errOut: errOut}
	var once sync.Once
	code := 0
	// exited records the exit code the first receive from done saw, so no path waits on done
	// twice (a second receive would block forever).
	exited := func(c int) { once.Do(func() { cancel(); code = c }) }
	s.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	f.t.Cleanup(func() { s.stop() })
	select {
	case ad := <-addr:
		s.url = "http://" + ad.String()
		return s, nil
	case c := <-done:
		exited(c)
		return s, fmt.Errorf("serve exited with %d before listening\nstderr: %s", c, errOut.String())
	case <-time.After(30 * time.Second):
		return s, fmt.Errorf("serve did not listen within 30s\nstderr: %s", errOut.String())
	}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

func get(t *testing.T, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestServeJWT(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.env["ASYNCMQ_JWT_SECRET"] = testSecret
	s := f.serve("--workers", "0", "--jwt-audience", "asyncmq-admin")

	res, body := get(t, s.url+"/asyncmq/health", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("GET /asyncmq/health = %d %q", res.StatusCode, body)
	}
	res, _ = get(t, s.url+"/asyncmq/queues?x=1", "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/asyncmq/login?next=/asyncmq/queues%3Fx%3D1" {
		t.Fatalf("anonymous GET = %d Location %q, want 303 to the login page", res.StatusCode, res.Header.Get("Location"))
	}

	tok := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "alice", "--role", "viewer", "--aud", "asyncmq-admin", "--raw"))
	res, body = get(t, s.url+"/asyncmq/", tok)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Dashboard") {
		t.Fatalf("GET with a valid token = %d, body %.200q", res.StatusCode, body)
	}
	wrongAud := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "alice", "--role", "viewer", "--aud", "elsewhere", "--raw"))
	if res, _ := get(t, s.url+"/asyncmq/", wrongAud); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET with a token for another audience = %d, want 303", res.StatusCode)
	}
	noRole := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "mallory", "--aud", "asyncmq-admin", "--raw"))
	if res, _ := get(t, s.url+"/asyncmq/", noRole); res.StatusCode != http.StatusForbidden {
		t.Fatalf("GET with a token holding no dashboard role = %d, want 403", res.StatusCode)
	}
	if res, _ := get(t, s.url+"/", ""); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/asyncmq/" {
		t.Fatalf("GET / = %d Location %q, want 303 to /asyncmq/", res.StatusCode, res.Header.Get("Location"))
	}
	if !strings.Contains(s.errOut.String(), "listening") || strings.Contains(s.errOut.String(), testSecret) {
		t.Fatalf("serve log does not name the address, or leaks the secret:\n%s", s.errOut.String())
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d after shutdown; stderr: %s", code, s.errOut.String())
	}
}

func TestServeDemoPrintsWorkingToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.serve("--demo", "--workers", "2", "--demo-interval", "50ms")
	out := s.out.String()
	var tok string
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.Count(l, ".") == 2 && !strings.ContainsAny(l, " /:") {
			tok = l
		}
	}
	if tok == "" || !strings.Contains(out, s.url+"/asyncmq/login") || !strings.Contains(out, "asyncmq_token") {
		t.Fatalf("demo banner lacks the login URL, the cookie name or a token:\n%s", out)
	}
	res, body := get(t, s.url+"/asyncmq/", tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET with the demo token = %d %.200q", res.StatusCode, body)
	}
	// The demo producer and the in-process worker fill the store.
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := decode[[]asyncmqtype.QueueInfo](t, f.mustRun("queue", "list", "--json"))
		completed := 0
		for _, q := range list {
			completed += q.Counts[asyncmqtype.StateCompleted]
		}
		if completed > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo job completed within 20s: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d; stderr: %s", code, s.errOut.String())
	}
}

func TestServeJWTDBRefusesDisabledUser(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.env["ASYNCMQ_JWT_SECRET"] = testSecret
	f.mustRun("users", "add", "alice", "--role", "operator")
	s := f.serve("--auth", "jwt-db", "--workers", "0")
	tok := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "alice", "--raw"))

	if res, body := get(t, s.url+"/asyncmq/", tok); res.StatusCode != http.StatusOK {
		t.Fatalf("active user: GET = %d %.200q", res.StatusCode, body)
	}
	f.mustRun("users", "disable", "alice")
	if res, _ := get(t, s.url+"/asyncmq/", tok); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disabled user: GET = %d, want 303 to the login page", res.StatusCode)
	}
	f.mustRun("users", "enable", "alice")
	if res, _ := get(t, s.url+"/asyncmq/", tok); res.StatusCode != http.StatusOK {
		t.Fatalf("re-enabled user: GET = %d, want 200", res.StatusCode)
	}
	unknown := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "nobody", "--admin", "--raw"))
	if res, _ := get(t, s.url+"/asyncmq/", unknown); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unknown user: GET = %d, want 303", res.StatusCode)
	}
}

func TestServeAuthNoneOnLoopback(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.serve("--auth", "none", "--workers", "0", "--prefix", "/")
	if res, body := get(t, s.url+"/", ""); res.StatusCode != http.StatusOK || !strings.Contains(body, "Dashboard") {
		t.Fatalf("GET / with --auth none --prefix / = %d %.200q", res.StatusCode, body)
	}
	if !strings.Contains(s.out.String(), "No sign-in") {
		t.Fatalf("banner does not warn about --auth none:\n%s", s.out.String())
	}
}

// TestServeFixtureReportsEarlyExit checks the fixture itself: a serve that exits before it
// listens is reported as an error, and stopping it afterwards returns its exit code instead of
// waiting forever for a second exit.
func TestServeFixtureReportsEarlyExit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s, err := f.startServe("--auth", "no-such-mode")
	if err == nil || !strings.Contains(err.Error(), "before listening") {
		t.Fatalf("serve with a bad --auth: err %v, want it to exit before listening", err)
	}
	stopped := make(chan int, 1)
	go func() { stopped <- s.stop() }()
	select {
	case code := <-stopped:
		if code != 2 {
			t.Fatalf("serve with a bad --auth exited %d, want 2 (usage error)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stopping a serve that already exited hangs")
	}
}
