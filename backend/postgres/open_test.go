package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// secret is the password every URL of these tests carries: it must never be shown.
const secret = "Zq7-never-show-me"

// withPassword returns u with user and password set.
func withPassword(t *testing.T, u, user string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.UserPassword(user, secret)
	return p.String()
}

// execSQL runs statements on the shared test server.
func execSQL(t *testing.T, u string, stmts ...string) {
	t.Helper()
	ctx := context.Background() // also from Cleanup, after the test's context ended
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestOpenRefusesBadInput: each way a store can be misconfigured gets an error that names the
// problem, and neither the error nor the logs show the password.
func TestOpenRefusesBadInput(t *testing.T) {
	t.Parallel()
	base := testURL(t)

	// A role that may read the schema's tables but not write them.
	migrated := freshSchema(t)
	open(t, migrated).Close()
	schema := must(url.Parse(migrated)).Query().Get("schema")
	var rb [4]byte
	rand.Read(rb[:])
	role := "amq_ro_" + hex.EncodeToString(rb[:])
	execSQL(t, base, "CREATE ROLE "+role+" LOGIN",
		"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA "+schema+" TO "+role)
	t.Cleanup(func() {
		execSQL(t, base, "DROP OWNED BY "+role, "DROP ROLE "+role)
	})

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	withDB := func(db string) string {
		u := must(url.Parse(base))
		u.Path = "/" + db
		return u.String()
	}
	with := func(u, k, v string) string {
		p := must(url.Parse(u))
		q := p.Query()
		q.Set(k, v)
		p.RawQuery = q.Encode()
		return p.String()
	}

	tests := []struct {
		name string
		url  string
		want string
	}{
		{"unreachable server", withPassword(t, fmt.Sprintf("postgres://127.0.0.1:%d/test?sslmode=disable&connect_timeout=5", deadPort), "postgres"), "cannot reach the PostgreSQL server"},
		{"missing database", withPassword(t, withDB("asyncmq_no_such_database"), "postgres"), "database does not exist"},
		{"missing schema", withPassword(t, with(base, "schema", "asyncmq_no_such_schema"), "postgres"), `schema "asyncmq_no_such_schema" does not exist`},
		{"schema without migrations", withPassword(t, freshSchema(t), "postgres"), "has no asyncmq tables: run `asyncmq migrate up` or open with migrate=auto"},
		{"role without rights", withPassword(t, migrated, role), "may not write asyncmq's tables"},
		{"unknown option", withPassword(t, with(base, "migrate", "always"), "postgres"), "migrate=auto"},
		{"server below the minimum version", withPassword(t, fmt.Sprintf("postgres://%s/test?sslmode=disable", fakeServer(t, "12.22")), "postgres"), `server version "12.22" is too old: asyncmq needs 13 or later`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			b, err := postgres.Open(t.Context(), tt.url, postgres.Logger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
			if err == nil {
				b.Close()
				t.Fatalf("Open succeeded, want an error saying %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error %q, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
				t.Fatalf("the password shows: error %q, logs %q", err, logs.String())
			}
			// Through the registry, as asyncmq.Open and the CLI open it.
			if _, err := backend.Open(t.Context(), tt.url); err == nil || strings.Contains(err.Error(), secret) {
				t.Fatalf("backend.Open error %v: want an error without the password", err)
			}
		})
	}

	t.Run("malformed URL", func(t *testing.T) {
		t.Parallel()
		_, err := postgres.Open(t.Context(), "postgres://u:"+secret+"@host:notaport/db")
		if err == nil || !errors.Is(err, asyncmqtype.ErrInvalid) || strings.Contains(err.Error(), secret) {
			t.Fatalf("Open of a malformed URL: %v; want ErrInvalid without the password", err)
		}
	})
}

// TestOpenRefusesWrongPassword runs its own server, which asks TCP clients for a password.
func TestOpenRefusesWrongPassword(t *testing.T) {
	t.Parallel()
	srv := startPrivateServer(t, "--auth-local=trust", "--auth-host=scram-sha-256")
	execSQL(t, srv.socketURL(), "CREATE ROLE amq LOGIN PASSWORD 'the-right-one'", "CREATE SCHEMA jobs AUTHORIZATION amq")
	_, err := postgres.Open(t.Context(), withPassword(t, srv.url(), "amq"))
	if err == nil || !strings.Contains(err.Error(), "login refused (wrong user or password?)") || strings.Contains(err.Error(), secret) {
		t.Fatalf("Open with a wrong password: %v; want a login refusal without the password", err)
	}
	// The right one works, and the store runs on that role's database.
	u := must(url.Parse(srv.url()))
	u.User = url.UserPassword("amq", "the-right-one")
	u.RawQuery += "&schema=jobs"
	b, err := postgres.Open(t.Context(), u.String(), postgres.AutoMigrate())
	if err != nil {
		t.Fatalf("Open with the right password: %v", err)
	}
	b.Close()
}

// fakeServer answers the start of a PostgreSQL connection as a server of the given version
// would, and returns its address. It serves no statement: a store must refuse it before any.
func fakeServer(t *testing.T, version string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				be := pgproto3.NewBackend(c, c)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				be.Send(&pgproto3.AuthenticationOk{})
				be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: version})
				be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
				if err := be.Flush(); err != nil {
					return
				}
				for {
					msg, err := be.Receive()
					if err != nil {
						return
					}
					if _, ok := msg.(*pgproto3.Terminate); ok {
						return
					}
					be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "0A000", Message: "a fake server runs no statement"})
					be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
					be.Flush()
				}
			}()
		}
	}()
	return l.Addr().String()
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A server without autovacuum lets the jobs table's dead rows pile up: Open says so in the log,
// and only then.
func TestOpenWarnsWithoutAutovacuum(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	var logs bytes.Buffer
	b := open(t, u, postgres.Logger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
	b.Close()
	var setting string
	if err := schemaConn(t, u).QueryRow(t.Context(), "SHOW autovacuum").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	warned := strings.Contains(logs.String(), "autovacuum off")
	if warned != (setting == "off") {
		t.Fatalf("server autovacuum %q; the log %s the warning:\n%s", setting, map[bool]string{true: "has", false: "lacks"}[warned], logs.String())
	}
}
