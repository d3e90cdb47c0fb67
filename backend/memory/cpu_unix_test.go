//go:build unix

package memory_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, so benchmarks can report a cost that
// does not grow when a loaded machine makes them wait for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
