package backendtest

import "testing"

// Groups not written yet; each file replaces its stub.
func testClaim(t *testing.T, newBackend Factory)      {}
func testFinish(t *testing.T, newBackend Factory)     {}
func testLease(t *testing.T, newBackend Factory)      {}
func testQueue(t *testing.T, newBackend Factory)      {}
func testListing(t *testing.T, newBackend Factory)    {}
func testBulk(t *testing.T, newBackend Factory)       {}
func testRepeatable(t *testing.T, newBackend Factory) {}
func testEvents(t *testing.T, newBackend Factory)     {}
func testMetrics(t *testing.T, newBackend Factory)    {}
func testAudit(t *testing.T, newBackend Factory)      {}
func testWorkers(t *testing.T, newBackend Factory)    {}
func testLifecycle(t *testing.T, newBackend Factory)  {}
