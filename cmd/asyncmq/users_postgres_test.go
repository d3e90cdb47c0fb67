package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestUsersOnPostgres runs the users commands against PostgreSQL through --users-db, in a schema
// of its own. It needs ASYNCMQ_TEST_POSTGRES (a DSN such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable); CI sets it.
func TestUsersOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("ASYNCMQ_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("ASYNCMQ_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b [6]byte
	rand.Read(b[:])
	schema := "asyncmq_cli_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	f := setup(t)
	f.env["ASYNCMQ_USERS_DB"] = u.String()
	f.mustRun("users", "add", "pat", "--email", "pat@example.com", "--role", "viewer")
	list := decode[[]userJSON](t, f.mustRun("users", "list", "--json"))
	if len(list) != 1 || list[0].ID != "pat" || strings.Join(list[0].Roles, ",") != "viewer" {
		t.Fatalf("users list on PostgreSQL = %+v", list)
	}
	f.mustRun("users", "disable", "pat")
	if list := decode[[]userJSON](t, f.mustRun("users", "list", "--json")); list[0].Active {
		t.Fatalf("pat still active: %+v", list[0])
	}
	f.mustRun("users", "remove", "pat")
}
