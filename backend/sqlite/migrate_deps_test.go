package sqlite

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// fileAtVersion builds a store file the way schema version left it, then runs rows (statements
// that fill it) on it, and returns its path.
func fileAtVersion(t *testing.T, version int, rows ...string) string {
	t.Helper()
	path := fmt.Sprintf("%s/v%d.db", t.TempDir(), version)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=auto_vacuum(2)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	stmts := []string{"CREATE TABLE asyncmq_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"}
	for v := 1; v <= version; v++ {
		stmts = append(stmts, migrations[v-1], fmt.Sprintf("INSERT INTO asyncmq_schema VALUES (%d, 0)", v))
	}
	for _, q := range append(stmts, rows...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("build a version %d file: %v", version, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMigrationMovesBlockedJobsToWaitingChildren builds a file the way schema version 4 left
// it, with jobs blocked on a parent stored as waiting and as delayed: Open must move them to
// waiting-children, counters included, and completing the parent must release them.
func TestMigrationMovesBlockedJobsToWaitingChildren(t *testing.T) {
	t.Parallel()
	at := t0.UnixNano()
	later := t0.Add(time.Hour).UnixNano()
	path := fileAtVersion(t, 4,
		fmt.Sprintf(`INSERT INTO asyncmq_jobs (id, queue, task, state, run_at, created_at, depends_on, pending_deps) VALUES
			('p', 'q', 't', 'waiting', %[1]d, %[1]d, NULL, 0),
			('c', 'q', 't', 'waiting', %[1]d, %[1]d, '["p"]', 1),
			('d', 'q', 't', 'delayed', %[2]d, %[1]d, '["p"]', 1),
			('e', 'q', 't', 'delayed', %[2]d, %[1]d, NULL, 0)`, at, later),
		`INSERT INTO asyncmq_job_deps (parent, child) VALUES ('p', 'c'), ('p', 'd')`,
		`INSERT INTO asyncmq_queues (name, waiting, delayed) VALUES ('q', 2, 2)`,
	)

	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := &bundle{t: t, ctx: t.Context(), b: b, path: path}
	for id, want := range map[string]asyncmqtype.State{"p": asyncmqtype.StateWaiting, "c": asyncmqtype.StateWaitingChildren,
		"d": asyncmqtype.StateWaitingChildren, "e": asyncmqtype.StateDelayed} {
		if j, err := b.GetJob(s.ctx, id); err != nil || j.State != want {
			t.Fatalf("job %s after migration: %+v, %v; want %s", id, j, err, want)
		}
	}
	requireCounts(t, b, "q", map[asyncmqtype.State]int{asyncmqtype.StateWaiting: 1, asyncmqtype.StateWaitingChildren: 2, asyncmqtype.StateDelayed: 1})

	s.finishAll(t0, s.claim(t0, 1, "q"), asyncmqtype.OutcomeCompleted)
	// c is due and becomes waiting; d runs at its RunAt, an hour on.
	requireCounts(t, b, "q", map[asyncmqtype.State]int{asyncmqtype.StateWaiting: 1, asyncmqtype.StateDelayed: 2, asyncmqtype.StateCompleted: 1})
}

// requireCounts checks every state count of a queue.
func requireCounts(t *testing.T, b *Backend, queue string, want map[asyncmqtype.State]int) {
	t.Helper()
	q, err := b.Queue(t.Context(), queue)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range asyncmqtype.States {
		if q.Counts[st] != want[st] {
			t.Errorf("queue %s: %d %s jobs, want %d", queue, q.Counts[st], st, want[st])
		}
	}
}
