package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/asyncmq/asyncmq/internal/pgtest"
)

// pgSchema returns the URL of an empty schema of the test's own on the PostgreSQL test server.
func pgSchema(t *testing.T, opts ...string) string { return pgtest.FreshSchema(t, opts...) }

func sqlDSN(t *testing.T, storeURL string) string {
	t.Helper()
	dsn, err := postgres.SQLDSN(storeURL)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// TestMigrateOnPostgres walks the migrate commands through a schema's life: nothing, a dry run
// that changes nothing, up, a store that opens, down, and a schema newer than the binary.
func TestMigrateOnPostgres(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.backendURL = pgSchema(t)

	type status struct{ Current, Latest int }
	st := decode[status](t, f.mustRun("migrate", "status", "--json"))
	if st.Current != 0 || st.Latest < 2 {
		t.Fatalf("status of an empty schema = %+v, want version 0 of at least 2", st)
	}
	// A store that has no tables is refused with the way out.
	r := f.run("queue", "list")
	if r.code == 0 || !strings.Contains(r.stderr, "no asyncmq tables") || !strings.Contains(r.stderr, "asyncmq migrate up") {
		t.Fatalf("queue list on an empty schema: exit %d, stderr %q; want a refusal naming asyncmq migrate up", r.code, r.stderr)
	}

	dry := f.mustRun("migrate", "up", "--dry-run")
	if !strings.Contains(dry, "would apply up 0001_init") || !strings.Contains(dry, "CREATE TABLE asyncmq_jobs") {
		t.Fatalf("migrate up --dry-run printed %q, want the steps and their SQL", dry)
	}
	if st := decode[status](t, f.mustRun("migrate", "status", "--json")); st.Current != 0 {
		t.Fatalf("after a dry run the schema is at version %d, want 0", st.Current)
	}

	up := f.mustRun("migrate", "up")
	if !strings.Contains(up, "applied up 0001_init") || strings.Contains(up, "CREATE TABLE") {
		t.Fatalf("migrate up printed %q", up)
	}
	if st := decode[status](t, f.mustRun("migrate", "status", "--json")); st.Current != st.Latest {
		t.Fatalf("after up: %+v", st)
	}
	if out := f.mustRun("migrate", "up"); !strings.Contains(out, "nothing to do") {
		t.Fatalf("second migrate up printed %q", out)
	}
	f.mustRun("enqueue", "t", "{}", "--queue", "q")
	if out := f.mustRun("queue", "list"); !strings.Contains(out, "q") {
		t.Fatalf("queue list after migrating: %q", out)
	}

	down := f.mustRun("migrate", "down", "--dry-run")
	// The last step's SQL undoes it; whatever it is, it drops something.
	if !strings.Contains(down, "would apply down") || !strings.Contains(down, "DROP ") {
		t.Fatalf("migrate down --dry-run printed %q", down)
	}
	f.mustRun("migrate", "down")
	if st2 := decode[status](t, f.mustRun("migrate", "status", "--json")); st2.Current != st.Latest-1 {
		t.Fatalf("after down: %+v, want version %d", st2, st.Latest-1)
	}
	f.mustRun("migrate", "up")

	// A schema a newer asyncmq migrated is refused by every command, which says what to do.
	db, err := sql.Open("pgx", sqlDSN(t, f.backendURL))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO asyncmq_schema (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate", "up"}, {"queue", "list"}} {
		r := f.run(args...)
		if r.code == 0 || !strings.Contains(r.stderr, "version 999") || !strings.Contains(r.stderr, "upgrade asyncmq") {
			t.Fatalf("asyncmq %s on a newer schema: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if out := f.mustRun("migrate", "status"); !strings.Contains(out, "newer than this binary") {
		t.Fatalf("status of a newer schema: %q", out)
	}

	// migrate refuses stores that have no migrations.
	if r := f.run("--backend", "sqlite://"+f.dir+"/q.db", "migrate", "up"); r.code != 2 || !strings.Contains(r.stderr, "postgres://") {
		t.Fatalf("migrate on SQLite: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}

// TestServeOnPostgresKeepsUsersAndSessions: with --backend postgres://, the dashboard's users
// and sessions live in the store's own schema, with no --users-db and no SQLite file.
func TestServeOnPostgresKeepsUsersAndSessions(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// setup made a SQLite store in f.dir; remove it, so the check below sees whether serve
	// creates one beside the PostgreSQL store.
	if err := os.Remove(f.dir + "/asyncmq.db"); err != nil {
		t.Fatal(err)
	}
	f.backendURL = pgSchema(t, "migrate", "auto")
	f.mustRun("users", "add", "olga", "--role", "operator")
	if r := f.runIn("a long enough password\n", "users", "set-password", "olga"); r.code != 0 {
		t.Fatalf("set-password: %s", r.stderr)
	}
	s := f.serve("--auth", "password", "--workers", "0")

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: noRedirect.CheckRedirect}
	form := url.Values{"username": {"olga"}, "password": {"a long enough password"}}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/asyncmq/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.url)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", res.StatusCode)
	}

	db, err := sql.Open("pgx", sqlDSN(t, f.backendURL))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sessions, users int
	if err := db.QueryRowContext(context.Background(), `SELECT (SELECT count(*) FROM asyncmq_admin_sessions), (SELECT count(*) FROM asyncmq_users)`).Scan(&sessions, &users); err != nil {
		t.Fatalf("read the schema's sessions and users: %v", err)
	}
	if sessions != 1 || users != 1 {
		t.Fatalf("schema holds %d sessions and %d users, want 1 and 1", sessions, users)
	}
	if _, err := os.Stat(f.dir + "/asyncmq.db"); !os.IsNotExist(err) {
		t.Fatalf("a SQLite file appeared beside a PostgreSQL store: %v", err)
	}
	// The user is re-read on every request from the same schema.
	f.mustRun("users", "disable", "olga")
	res, err = c.Get(s.url + "/asyncmq/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET after disable = %d, want 303", res.StatusCode)
	}
}
