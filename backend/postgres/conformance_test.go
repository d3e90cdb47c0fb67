package postgres_test

import (
	"testing"

	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/backendtest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	testURL(t)
	backendtest.Run(t, func(t *testing.T) backend.Store {
		return open(t, pooledSchema(t))
	})
}

// TestConformanceShared runs the two-handle part of the suite with two Backends on one schema,
// which stand for two processes.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	testURL(t)
	backendtest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) {
		u := pooledSchema(t)
		return open(t, u), open(t, u)
	})
}
