package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/jackc/pgx/v5"
)

// testURL returns the test server's URL, skipping the test when ASYNCMQ_TEST_POSTGRES is unset.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ASYNCMQ_TEST_POSTGRES")
	if u == "" {
		t.Skip("ASYNCMQ_TEST_POSTGRES is not set")
	}
	return u
}

// freshSchema creates an empty schema for one test, dropped when it ends, and returns the URL
// naming it (without migrations applied).
func freshSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "amqtest_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a migrated store on url and closes it when the test ends.
func open(t testing.TB, url string, opts ...postgres.Option) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(context.Background(), url, append([]postgres.Option{postgres.AutoMigrate(), postgres.MaxConns(4)}, opts...)...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
