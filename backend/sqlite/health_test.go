package sqlite

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestReplacedFileStopsWrites deletes or replaces the database file under an open Backend: its
// next write must fail with ErrStoreUnusable naming the path, instead of going on into a file
// no other process can see, and so must every later one.
func TestReplacedFileStopsWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, path string)
		want    string
	}{
		{"deleted", func(t *testing.T, path string) {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}
		}, "was deleted"},
		{"replaced by a new database", func(t *testing.T, path string) {
			other := setup(t)
			other.enqueueN("q", "other", 1, t0)
			if err := other.b.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other.path, path); err != nil {
				t.Fatal(err)
			}
		}, "was replaced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			s.enqueueN("q", "before", 2, t0)
			tc.replace(t, s.path)
			time.Sleep(identityCheckEvery + 50*time.Millisecond)
			for i := range 2 {
				err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("after-"+string(rune('a'+i)), "q")}, Now: t0})
				if !errors.Is(err, asyncmqtype.ErrStoreUnusable) || !strings.Contains(err.Error(), s.path) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("enqueue %d after the file %s: %v, want ErrStoreUnusable naming %s", i, tc.name, err, s.path)
				}
			}
			_, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w"}, LeaseDuration: time.Second, Now: t0})
			if !errors.Is(err, asyncmqtype.ErrStoreUnusable) {
				t.Fatalf("heartbeat after the file %s: %v, want ErrStoreUnusable", tc.name, err)
			}
		})
	}
}

// TestUnchangedFileKeepsWorking guards the check against false alarms: a file that is only
// written to (past automatic checkpoints) is still the one opened.
func TestUnchangedFileKeepsWorking(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for i := range 3 {
		s.enqueueN("q", "r"+string(rune('a'+i)), 600, t0)
		time.Sleep(identityCheckEvery + 10*time.Millisecond)
	}
	if _, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w"}, LeaseDuration: time.Second, Now: t0}); err != nil {
		t.Fatalf("heartbeat on an unchanged file: %v", err)
	}
}
