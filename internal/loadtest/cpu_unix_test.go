//go:build unix

package loadtest_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time this process has used, user and system, and true; the load
// tests divide it by the requests served to get a cost per request that other processes on a
// shared machine do not skew, as they skew latencies.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
