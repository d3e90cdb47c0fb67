package postgres_test

import (
	"context"
	"testing"

	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/asyncmq/asyncmq/internal/pgtest"
)

func testURL(t testing.TB) string { return pgtest.URL(t) }

func freshSchema(t testing.TB) string { return pgtest.FreshSchema(t) }

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
