package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
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

// damagedDB returns the path of a closed database of a few thousand jobs whose header is intact
// and whose middle pages are overwritten with noise.
func damagedDB(t *testing.T) string {
	t.Helper()
	s := setup(t)
	s.enqueueN("q", "j", 3000, t0)
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	pages := len(data) / page
	if pages < 20 {
		t.Fatalf("the database has %d pages, too few to damage its middle", pages)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for p := pages / 4; p < pages*3/4; p++ {
		for i := p * page; i < (p+1)*page; i++ {
			data[i] = byte(rng.Uint32())
		}
	}
	if err := os.WriteFile(s.path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return s.path
}

// TestOpenRefusesDamagedPages opens a file whose header is valid and whose pages are damaged:
// Open must refuse it, naming the path and the damage, and change nothing.
func TestOpenRefusesDamagedPages(t *testing.T) {
	t.Parallel()
	path := damagedDB(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), path)
	if err == nil {
		b.Close()
		t.Fatal("Open accepted a file with damaged pages")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Open of a damaged file: %v, want an error naming %s and the damage", err, path)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("Open changed a damaged file")
	}
}

// TestDamagedPagesStopWrites skips the check at Open: the writes that then meet the damage must
// stop, after a few, with ErrStoreUnusable saying the file is damaged, instead of failing the
// same way forever.
func TestDamagedPagesStopWrites(t *testing.T) {
	t.Parallel()
	path := damagedDB(t)
	b, err := Open(t.Context(), path, IntegrityCheck(0))
	if err != nil {
		t.Fatalf("Open without the integrity check: %v", err)
	}
	defer b.Close()
	var last error
	for i := range 10 {
		jobs := []*asyncmqtype.JobInfo{newJob(fmt.Sprintf("new-%d", i), "q")}
		last = b.Enqueue(t.Context(), backend.EnqueueParams{Jobs: jobs, Now: t0})
		if last == nil {
			_, last = b.Claim(t.Context(), backend.ClaimParams{Queue: "q", WorkerID: "w", Limit: 100, LeaseDuration: time.Minute, Now: t0})
		}
		if errors.Is(last, asyncmqtype.ErrStoreUnusable) {
			break
		}
	}
	if !errors.Is(last, asyncmqtype.ErrStoreUnusable) || !strings.Contains(last.Error(), "damaged") || !strings.Contains(last.Error(), path) {
		t.Fatalf("writes to a damaged file end with %v, want ErrStoreUnusable naming %s as damaged", last, path)
	}
}
