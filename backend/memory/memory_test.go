package memory_test

import (
	"testing"

	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/backendtest"
	"github.com/asyncmq/asyncmq/backend/memory"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b := memory.New()
		t.Cleanup(func() { b.Close() })
		return b
	})
}
