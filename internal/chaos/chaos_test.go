package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeWorker() // the harness starts this test binary as its workers
	os.Exit(m.Run())
}

// TestSmallRun is the CI version of the harness: two SQLite worker processes for 10 seconds,
// one killed about every two seconds, with the database lock held, the disk filled (as root,
// on a tmpfs) and the database file replaced about every three, and up to 30 seconds for the
// workers to finish. Every accepted job must complete exactly once, and every worker must stop
// on a replaced file.
func TestSmallRun(t *testing.T) {
	t.Parallel()
	rep, err := Run(t.Context(), Config{
		Dir: t.TempDir(), Workers: 2, Duration: 10 * time.Second, KillEvery: 2 * time.Second, Rate: 100,
		Settle: 30 * time.Second, LockEvery: 3 * time.Second, LockFor: 500 * time.Millisecond,
		DiskFullEvery: 3 * time.Second, DiskFullFor: time.Second, DiskSize: 32 << 20,
		ReplaceEvery: 3 * time.Second, Log: testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%v", rep)
	if rep.Failed() {
		t.Fatalf("chaos run failed:\n%v", rep)
	}
	if rep.Accepted == 0 {
		t.Error("no job was accepted")
	}
	for _, f := range []string{FaultKill, FaultLock, FaultDiskFull, FaultReplace} {
		if _, skipped := rep.Skipped[f]; !skipped && rep.Faults[f] == 0 {
			t.Errorf("fault %q never ran", f)
		}
	}
	if os.Geteuid() == 0 {
		if reason, skipped := rep.Skipped[FaultDiskFull]; skipped {
			t.Logf("running as root, yet the disk-full fault was skipped: %s", reason)
		}
	}
	if rep.Faults[FaultReplace] > 0 && rep.Stopped == 0 {
		t.Error("the file was replaced, yet no worker stopped")
	}
}

// TestReplacedFileCarriedOn checks that the harness fails a run in which a worker keeps running
// after its database file was replaced: its worker is a script that says it is ready and then
// ignores everything, as a worker that misses the replacement would.
func TestReplacedFileCarriedOn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	deaf := filepath.Join(dir, "deaf-worker")
	if err := os.WriteFile(deaf, []byte("#!/bin/sh\necho '"+readyLine+"'\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Config{
		Dir: dir, Command: deaf, Workers: 1, Duration: 3 * time.Second, Rate: 20, Settle: time.Second,
		ReplaceEvery: time.Second, StopWait: time.Second, Log: testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%v", rep)
	if rep.Faults[FaultReplace] == 0 || rep.CarriedOn == 0 || rep.Stopped != 0 || !rep.Failed() {
		t.Fatalf("want the file replaced, the worker counted as carrying on, and the run failed; got:\n%v", rep)
	}
	if !strings.Contains(rep.String(), fmt.Sprintf("carried on %d", rep.CarriedOn)) {
		t.Errorf("summary does not say a worker carried on:\n%v", rep)
	}
}

// testLog sends the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p[:len(p)-min(len(p), 1)]))
	return len(p), nil
}
