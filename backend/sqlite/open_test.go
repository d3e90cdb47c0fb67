package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// dirState records the names and contents of the files of a folder.
func dirState(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()+"/"] = nil
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func requireSameDir(t *testing.T, before, after map[string][]byte) {
	t.Helper()
	for name, b := range before {
		a, ok := after[name]
		if !ok {
			t.Errorf("%s is gone", name)
		} else if !bytes.Equal(a, b) {
			t.Errorf("%s was changed", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s was created", name)
		}
	}
}

// validDB returns the bytes of a closed, migrated database.
func validDB(t *testing.T) []byte {
	t.Helper()
	s := setup(t)
	s.enqueueN("q", "j", 3, t0)
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRejectsBadPaths(t *testing.T) {
	t.Parallel()
	good := validDB(t)
	damaged := slices.Clone(good)
	// Page 1 holds the schema after the 100-byte header; garbage there must be caught before any
	// write, and the file left as it was.
	for i := 100; i < 4096 && i < len(damaged); i++ {
		damaged[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		// prepare creates what the test opens in dir and returns the path to open.
		prepare func(t *testing.T, dir string) string
		want    string
	}{
		{"missing folder", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "no-such-folder", "asyncmq.db")
		}, "does not exist"},
		{"folder", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "a-folder")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is a folder"},
		{"file as folder", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "plain")
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(p, "asyncmq.db")
		}, "not a folder"},
		{"text file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "notes.txt")
			if err := os.WriteFile(p, []byte("these are my notes, not a database\n"+strings.Repeat("x", 5000)), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not an SQLite database"},
		{"short file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "short.db")
			if err := os.WriteFile(p, []byte("SQLite"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not an SQLite database"},
		{"header only", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "header.db")
			if err := os.WriteFile(p, append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xff}, 8192)...), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "SQLite database"},
		{"damaged schema page", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "damaged.db")
			if err := os.WriteFile(p, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tt.prepare(t, dir)
			before := dirState(t, dir)
			b, err := Open(t.Context(), path)
			if err == nil {
				b.Close()
				t.Fatalf("Open(%s) succeeded", path)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name the path and say %q", err, tt.want)
			}
			requireSameDir(t, before, dirState(t, dir))
		})
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.exec(`INSERT INTO asyncmq_schema (version, applied_at) VALUES (99, 0)`)
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, filepath.Dir(s.path))
	b, err := Open(t.Context(), s.path)
	if err == nil {
		b.Close()
		t.Fatal("Open succeeded on a newer schema")
	}
	for _, want := range []string{s.path, "schema version 99", "upgrade asyncmq"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	requireSameDir(t, before, dirState(t, filepath.Dir(s.path)))
}

func TestOpenInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Option
	}{
		{"no read connections", ReadConns(0)},
		{"zero event retention", EventRetention(0)},
		{"unknown sync mode", Synchronous("SOMETIMES")},
		{"negative busy timeout", BusyTimeout(-1)},
		{"zero metrics retention", MetricsRetention(0)},
		{"nil logger", Logger(nil)},
		{"negative watch interval", WatchInterval(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := Open(t.Context(), filepath.Join(dir, "asyncmq.db"), tt.opt)
			if !errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Fatalf("Open: got %v, want ErrInvalid", err)
			}
			requireSameDir(t, map[string][]byte{}, dirState(t, dir))
		})
	}
}

func TestOpenSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []Option
		wantSync string
	}{
		{"default", nil, "1"},
		{"full", []Option{Synchronous(SyncFull)}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, tt.opts...)
			for pragma, want := range map[string]string{
				"journal_mode": "wal", "synchronous": tt.wantSync, "foreign_keys": "1",
			} {
				if got := s.writerPragma(pragma); got != want {
					t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
				}
			}
		})
	}
}

func TestReopenKeepsJobsAndSchema(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.enqueueN("q", "j", 5, t0)
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), s.path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	q, err := b.Queue(t.Context(), "q")
	if err != nil {
		t.Fatal(err)
	}
	if q.Counts[asyncmqtype.StateWaiting] != 5 {
		t.Errorf("waiting after reopen = %d, want 5", q.Counts[asyncmqtype.StateWaiting])
	}
	var versions int
	if err := b.r.QueryRowContext(t.Context(), `SELECT count(*) FROM asyncmq_schema`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) {
		t.Errorf("schema has %d version rows, want %d", versions, len(migrations))
	}
}

// TestOpenPaths opens files whose names a URL would mangle, and an empty file, which SQLite
// treats as a new database.
func TestOpenPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		prepare func(path string) error
	}{
		{"URL characters", "my jobs ?#%20&x=1.db", nil},
		{"non-ASCII", "файл-ジョブ.db", nil},
		{"empty file", "empty.db", func(path string) error { return os.WriteFile(path, nil, 0o644) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			if tt.prepare != nil {
				if err := tt.prepare(path); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				b, err := Open(t.Context(), path)
				if err != nil {
					t.Fatalf("open %q: %v", path, err)
				}
				if err := b.Enqueue(t.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob(fmt.Sprint("j", b.now().UnixNano()), "q")}}); err != nil {
					t.Fatal(err)
				}
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != tt.file {
				t.Errorf("folder holds %v, want only %q", entries, tt.file)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s := setup(t)
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	calls := map[string]error{
		"Ping":    s.b.Ping(s.ctx),
		"Enqueue": s.b.Enqueue(s.ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{newJob("a", "q")}}),
	}
	_, calls["GetJob"] = s.b.GetJob(s.ctx, "a")
	_, calls["Queues"] = s.b.Queues(s.ctx)
	_, calls["Claim"] = s.b.Claim(s.ctx, backend.ClaimParams{Queue: "q", Limit: 1, LeaseDuration: 1})
	_, calls["ListJobs"] = s.b.ListJobs(s.ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateWaiting}, Limit: 10})
	_, calls["Events"] = s.b.Events(s.ctx, asyncmqtype.EventsParams{})
	for name, err := range calls {
		if !errors.Is(err, asyncmqtype.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
}
