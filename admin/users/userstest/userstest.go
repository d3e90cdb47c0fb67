// Package userstest opens throwaway databases for tests of code built on package users: a SQLite
// file in a temporary directory, and a private PostgreSQL schema when ASYNCMQ_TEST_POSTGRES holds
// a DSN. Both are removed when the test ends.
package userstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/users"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// PostgresEnv names the environment variable holding the PostgreSQL DSN for tests, such as
// "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".
const PostgresEnv = "ASYNCMQ_TEST_POSTGRES"

// DB is a fresh, empty database for one test.
type DB struct {
	// Name is "sqlite" or "postgres", for subtest names.
	Name    string
	Driver  string
	DSN     string
	Dialect users.Dialect
	DB      *sql.DB
}

// SQLite returns a database in a new file under t.TempDir().
func SQLite(t testing.TB) DB {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "asyncmq.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return DB{Name: "sqlite", Driver: "sqlite", DSN: dsn, Dialect: users.SQLite, DB: db}
}

// Postgres returns a connection whose search_path is a new schema, dropped when the test ends. It
// skips the test when ASYNCMQ_TEST_POSTGRES is unset and fails it when the server is unreachable,
// so a CI job that sets the variable cannot pass silently without PostgreSQL.
func Postgres(t testing.TB) DB {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a DSN such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "asyncmq_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("postgres from %s: create schema: %v", PostgresEnv, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return DB{Name: "postgres", Driver: "pgx", DSN: dsn, Dialect: users.Postgres, DB: db}
}

// Each runs fn as a parallel subtest on SQLite and on PostgreSQL (skipped, with the reason, when
// ASYNCMQ_TEST_POSTGRES is unset).
func Each(t *testing.T, fn func(t *testing.T, db DB)) {
	t.Helper()
	for _, open := range []struct {
		name string
		open func(testing.TB) DB
	}{{"sqlite", SQLite}, {"postgres", Postgres}} {
		t.Run(open.name, func(t *testing.T) {
			t.Parallel()
			fn(t, open.open(t))
		})
	}
}

// Store returns a users store with the default schema on db, closed when the test ends.
func Store(t testing.TB, db DB) *users.SQLStore {
	t.Helper()
	s, err := users.NewSQLStore(context.Background(), db.DB, db.Dialect)
	if err != nil {
		t.Fatalf("new users store on %s: %v", db.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
