// Package pgtest gives tests of the PostgreSQL store an empty schema of their own on the server
// ASYNCMQ_TEST_POSTGRES names, so tests run in parallel without seeing each other's jobs.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the variable naming the test server, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable; CI sets it.
const EnvURL = "ASYNCMQ_TEST_POSTGRES"

// URL returns the test server's URL, skipping the test when EnvURL is unset.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skip(EnvURL + " is not set")
	}
	return u
}

// FreshSchema creates an empty schema (no asyncmq tables) for one test, dropped with everything
// in it when the test ends, and returns the store URL naming it with the given extra options
// (key, value pairs such as "migrate", "auto").
func FreshSchema(t testing.TB, opts ...string) string {
	t.Helper()
	base := URL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "amqtest_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	run := func(stmt string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := run("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema %s on the test server: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := run("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("schema", schema)
	for i := 0; i+1 < len(opts); i += 2 {
		q.Set(opts[i], opts[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

var persistent struct {
	sync.Mutex
	base    string
	schemas []string
}

// PersistentSchema is FreshSchema for a schema that outlives the test, for a pool of schemas
// reused by several tests in turn; DropPersistentSchemas (from TestMain) drops them all.
func PersistentSchema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "amqpool_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s on the test server: %v", schema, err)
	}
	persistent.Lock()
	persistent.base = base
	persistent.schemas = append(persistent.schemas, schema)
	persistent.Unlock()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// DropPersistentSchemas drops the schemas PersistentSchema created.
func DropPersistentSchemas() {
	persistent.Lock()
	defer persistent.Unlock()
	if len(persistent.schemas) == 0 {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, persistent.base)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	for _, s := range persistent.schemas {
		conn.Exec(ctx, "DROP SCHEMA "+s+" CASCADE")
	}
	persistent.schemas = nil
}
