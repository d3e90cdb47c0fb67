package backendtest

import "testing"

// Groups not written yet; each file replaces its stub.
func testMetrics(t *testing.T, newBackend Factory)   {}
func testAudit(t *testing.T, newBackend Factory)     {}
func testWorkers(t *testing.T, newBackend Factory)   {}
func testLifecycle(t *testing.T, newBackend Factory) {}
