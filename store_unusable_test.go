package asyncmq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

// TestWorkerStopsWhenItsFileIsDeleted deletes the SQLite file under a running worker: Run must
// return an error wrapping ErrStoreUnusable that names the path, instead of claiming on into a
// file nobody else can see, and a producer on the same handle gets the same error.
func TestWorkerStopsWhenItsFileIsDeleted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "q.db")
	b, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	tb := setup(t)
	tb.b, tb.client = b, NewClient(b)
	tb.mux.HandleFunc("t", func(context.Context, *Job) error { return nil })
	_, done := tb.startWorker(t, tb.fastConfig(map[string]int{"q": 2}))
	j := tb.enqueue(t, "t", nil, Queue("q"))
	tb.waitState(t, j.ID, asyncmqtype.StateCompleted)

	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, asyncmqtype.ErrStoreUnusable) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Run returned %v, want ErrStoreUnusable naming %s", err, path)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the worker kept running on a deleted database file")
	}
	if _, err := tb.client.Enqueue(t.Context(), "t", nil, Queue("q")); !errors.Is(err, asyncmqtype.ErrStoreUnusable) {
		t.Fatalf("enqueue on the deleted file: %v, want ErrStoreUnusable", err)
	}
}
