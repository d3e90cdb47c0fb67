package chaos

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeWorker() // the harness starts this test binary as its workers
	os.Exit(m.Run())
}

// TestSmallRun is the CI version of the harness: two SQLite worker processes, one killed about
// every two seconds, a held lock, for 6 seconds, with up to 22 seconds to finish. Every accepted job must complete exactly once.
func TestSmallRun(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "chaos.db")
	rep, err := Run(t.Context(), Config{
		StoreURL: url, Workers: 2, Duration: 6 * time.Second, KillEvery: 2 * time.Second, Rate: 100,
		Settle: 22 * time.Second, LockEvery: 3 * time.Second, LockFor: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if rep.Accepted == 0 || rep.Kills == 0 || rep.Failed() {
		t.Fatalf("chaos run: %v; want jobs accepted, workers killed, none lost, doubled or stuck", rep)
	}
}
