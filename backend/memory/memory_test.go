package memory_test

import (
	"testing"

	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/backendtest"
	"github.com/asyncmq/asyncmq/backend/memory"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	backendtest.Run(t, func(t *testing.T) backend.Store {
		b := memory.New()
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// The memory store has one handle per store, so both sides of RunShared are the same Backend;
// it still checks the concurrent parts (claims, firings) through the shared helpers.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	backendtest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) {
		b := memory.New()
		t.Cleanup(func() { b.Close() })
		return b, b
	})
}
