package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestNewFileReclaimsIncrementally checks that a new file is in auto_vacuum=INCREMENTAL mode and
// that Compact gives the pages freed by deleted jobs back to the file system.
func TestNewFileReclaimsIncrementally(t *testing.T) {
	t.Parallel()
	s := setup(t)
	if got := s.writerPragma("auto_vacuum"); got != "2" {
		t.Fatalf("auto_vacuum of a new file = %s, want 2 (incremental)", got)
	}
	s.enqueueN("q", "j", 5000, t0)
	s.exec("DELETE FROM asyncmq_jobs")
	s.raw("PRAGMA wal_checkpoint(TRUNCATE)")
	full := fileSize(t, s.path)
	free := s.writerPragma("freelist_count")
	res, err := s.b.Compact(s.ctx, backend.CompactParams{Now: t0})
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	if res.Bytes <= 0 || s.writerPragma("freelist_count") != "0" {
		t.Fatalf("compact returned %d bytes; free pages %s before, %s after, want all returned", res.Bytes, free, s.writerPragma("freelist_count"))
	}
	s.raw("PRAGMA wal_checkpoint(TRUNCATE)")
	if after := fileSize(t, s.path); after > full-res.Bytes+64<<10 {
		t.Fatalf("file is %d bytes after compact returned %d of %d, want about %d", after, res.Bytes, full, full-res.Bytes)
	}
}

// raw runs a statement on the write connection outside a transaction.
func (s *bundle) raw(q string) {
	s.t.Helper()
	if err := s.b.rawWrite(s.ctx, func(c *sql.Conn) error { _, err := c.ExecContext(s.ctx, q); return err }); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// TestOpenConvertsOldFileToIncrementalVacuum builds a file the way schema version 3 left it
// (auto_vacuum off), with jobs in it: Open must convert it, keep the jobs, and record version 4.
func TestOpenConvertsOldFileToIncrementalVacuum(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/old.db"
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=auto_vacuum(0)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	stmts := []string{"CREATE TABLE asyncmq_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"}
	for v := 1; v <= 3; v++ {
		stmts = append(stmts, migrations[v-1], fmt.Sprintf("INSERT INTO asyncmq_schema VALUES (%d, 0)", v))
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("build a version 3 file: %v", err)
		}
	}
	var mode int
	if err := db.QueryRow("PRAGMA auto_vacuum").Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("the version 3 file has auto_vacuum %d (%v), want 0", mode, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s := &bundle{t: t, ctx: t.Context(), b: b, path: path}
	s.enqueueN("q", "kept", 10, t0)
	b.Close()

	b, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s.b = b
	if got := s.writerPragma("auto_vacuum"); got != "2" {
		t.Fatalf("auto_vacuum after Open of a version 3 file = %s, want 2 (incremental)", got)
	}
	var v int
	if err := b.queryRow(s.ctx, "SELECT max(version) FROM asyncmq_schema").Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
	}
	q, err := b.Queue(s.ctx, "q")
	if err != nil || q.Counts[asyncmqtype.StateWaiting] != 10 {
		t.Fatalf("queue after conversion: %+v, %v; want 10 waiting jobs", q, err)
	}
}

// TestCompactDeletesTheEventsOfDeletedJobs deletes the older half of the jobs: Compact must
// delete the events recorded before the oldest job left, keep the rest, and never delete the
// newest event (whose ID the next event follows).
func TestCompactDeletesTheEventsOfDeletedJobs(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.enqueueN("q", "old", 3000, t0)
	s.enqueueN("q", "new", 100, t0.Add(time.Hour))
	s.exec("DELETE FROM asyncmq_jobs WHERE id LIKE 'old-%'")
	res, err := s.b.Compact(s.ctx, backend.CompactParams{Now: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	evs, err := s.b.Events(s.ctx, asyncmqtype.EventsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 3000 || len(evs) != 100 || evs[0].JobID != "new-00000" {
		t.Fatalf("compact deleted %d events and kept %d starting at %+v; want 3000 deleted and the 100 of the jobs left", res.Events, len(evs), evs[0])
	}

	last := evs[len(evs)-1].Cursor
	s.exec("DELETE FROM asyncmq_jobs")
	if _, err := s.b.Compact(s.ctx, backend.CompactParams{Now: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatalf("compact: %v", err)
	}
	evs, err = s.b.Events(s.ctx, asyncmqtype.EventsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Cursor != last {
		t.Fatalf("with no job left, compact kept %d events, want only the newest (%s)", len(evs), last)
	}
}
