package sqlite_test

import (
	"testing"

	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/backendtest"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

func open(t *testing.T, path string) *sqlite.Backend {
	t.Helper()
	b, err := sqlite.Open(t.Context(), path, sqlite.ReadConns(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	backendtest.Run(t, func(t *testing.T) backend.Store {
		return open(t, sqlite.FreshDB(t))
	})
}

// TestConformanceShared runs the two-handle part of the suite with two Backends on one file,
// which stand for two processes.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	backendtest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) {
		path := sqlite.FreshDB(t)
		return open(t, path), open(t, path)
	})
}
