//go:build !unix

package loadtest_test

import "time"

// processCPU reports false: without getrusage the load tests show no CPU cost per request.
func processCPU() (time.Duration, bool) { return 0, false }
