package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func txJob(id string) *asyncmqtype.JobInfo {
	return &asyncmqtype.JobInfo{ID: id, Queue: "tx", Task: "t", Payload: []byte(`{"n":1}`)}
}

// claimAll claims what the queue "tx" holds.
func claimAll(t *testing.T, b backend.Store) []string {
	t.Helper()
	jobs, err := b.Claim(t.Context(), backend.ClaimParams{Queue: "tx", WorkerID: "w", Limit: 100, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func TestEnqueueTx(t *testing.T) {
	t.Parallel()
	b := open(t, freshSchema(t))
	ctx := t.Context()
	sub, unsub := b.Subscribe("tx")
	defer unsub()

	t.Run("rollback leaves no job", func(t *testing.T) {
		tx, err := b.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.EnqueueTx(ctx, tx, txJob("rolled-1"), txJob("rolled-2")); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"rolled-1", "rolled-2"} {
			if _, err := b.GetJob(ctx, id); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
				t.Fatalf("GetJob(%s) after rollback: %v, want ErrJobNotFound", id, err)
			}
		}
		if got := claimAll(t, b); len(got) != 0 {
			t.Fatalf("claimed %v after rollback", got)
		}
	})

	t.Run("uncommitted job is invisible, committed job runs once", func(t *testing.T) {
		drain(sub)
		tx, err := b.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.EnqueueTx(ctx, tx, txJob("kept")); err != nil {
			t.Fatal(err)
		}
		if got := claimAll(t, b); len(got) != 0 {
			t.Fatalf("claimed %v before commit", got)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sub:
		case <-time.After(5 * time.Second):
			t.Fatal("no notification after commit")
		}
		if got := claimAll(t, b); len(got) != 1 || got[0] != "kept" {
			t.Fatalf("claimed %v after commit, want [kept]", got)
		}
		if got := claimAll(t, b); len(got) != 0 {
			t.Fatalf("claimed %v again", got)
		}
		j, err := b.GetJob(ctx, "kept")
		if err != nil || j.State != asyncmqtype.StateActive || j.Attempts != 1 {
			t.Fatalf("stored job %+v, %v; want active after one attempt", j, err)
		}
	})

	t.Run("error names the job and aborts only the caller's transaction", func(t *testing.T) {
		err := pgx.BeginFunc(ctx, b.Pool(), func(tx pgx.Tx) error {
			return b.EnqueueTx(ctx, tx, txJob("kept"))
		})
		if !errors.Is(err, asyncmqtype.ErrJobExists) {
			t.Fatalf("enqueue of a taken ID: %v, want ErrJobExists", err)
		}
	})
}

func TestEnqueueSQLTx(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	b := open(t, u)
	ctx := t.Context()
	// database/sql's pgx driver does not know asyncmq's schema parameter; search_path, a
	// server parameter, does the same.
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	q.Del("schema")
	q.Set("search_path", b.Schema())
	pu.RawQuery = q.Encode()
	db, err := sql.Open("pgx", pu.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnqueueSQLTx(ctx, tx, txJob("sql-rolled")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetJob(ctx, "sql-rolled"); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
		t.Fatalf("GetJob after rollback: %v, want ErrJobNotFound", err)
	}

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	unique := txJob("sql-kept")
	unique.UniqueKey = "k"
	if err := b.EnqueueSQLTx(ctx, tx, unique, txJob("sql-kept-2")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, b); len(got) != 2 {
		t.Fatalf("claimed %v after commit, want both jobs", got)
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestNotifyAcrossBackends: an enqueue through one Backend wakes a subscriber of another (two
// processes, in production) through LISTEN/NOTIFY.
func TestNotifyAcrossBackends(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	a, b := open(t, u), open(t, u)
	sub, unsub := b.Subscribe("tx")
	defer unsub()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Subscribe returned once the listener was in place: nothing is pending yet.
	select {
	case <-sub:
		t.Fatal("a signal before anything was enqueued")
	default:
	}
	start := time.Now()
	if err := a.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{txJob("n1")}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub:
		t.Logf("woken %s after the enqueue began", time.Since(start))
	case <-ctx.Done():
		t.Fatal("no wake-up from the other backend")
	}
}

// TestTransactionalEnqueueRunsOnce runs a worker while jobs are enqueued in the caller's
// transaction, through pgx and through database/sql: a job whose transaction rolled back never
// runs nor exists, and one whose transaction committed runs exactly once.
func TestTransactionalEnqueueRunsOnce(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	b := open(t, u)
	ctx := t.Context()
	sqlDSN, err := postgres.SQLDSN(u)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", sqlDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var mu sync.Mutex
	runs := map[string]int{}
	ran := make(chan string, 16)
	mux := asyncmq.NewServeMux()
	mux.HandleFunc("t", func(ctx context.Context, job *asyncmq.Job) error {
		mu.Lock()
		runs[job.ID]++
		mu.Unlock()
		ran <- job.ID
		return nil
	})
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{Queues: map[string]int{"tx": 4}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	enqueues := []struct {
		name string
		// enqueue runs one transaction that enqueues job and commits it or rolls it back.
		enqueue func(job *asyncmqtype.JobInfo, commit bool) error
	}{
		{"pgx.Tx", func(job *asyncmqtype.JobInfo, commit bool) error {
			tx, err := b.Pool().Begin(ctx)
			if err != nil {
				return err
			}
			if err := b.EnqueueTx(ctx, tx, job); err != nil {
				return err
			}
			if commit {
				return tx.Commit(ctx)
			}
			return tx.Rollback(ctx)
		}},
		{"*sql.Tx", func(job *asyncmqtype.JobInfo, commit bool) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if err := b.EnqueueSQLTx(ctx, tx, job); err != nil {
				return err
			}
			if commit {
				return tx.Commit()
			}
			return tx.Rollback()
		}},
	}
	job := func(id string) *asyncmqtype.JobInfo {
		return &asyncmqtype.JobInfo{ID: id, Queue: "tx", Task: "t", Payload: []byte(`{}`)}
	}
	for _, e := range enqueues {
		rolled, committed := "rolled-back via "+e.name, "committed via "+e.name
		if err := e.enqueue(job(rolled), false); err != nil {
			t.Fatalf("%s: enqueue and roll back: %v", e.name, err)
		}
		if err := e.enqueue(job(committed), true); err != nil {
			t.Fatalf("%s: enqueue and commit: %v", e.name, err)
		}
		select {
		case id := <-ran:
			if id != committed {
				t.Fatalf("%s: ran %q, want %q", e.name, id, committed)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the committed job did not run within 10s", e.name)
		}
	}
	// Give a wrongly visible or repeated job every chance to run: several poll intervals and a
	// stalled-job check.
	time.Sleep(2 * time.Second)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range enqueues {
		if n := runs["committed via "+e.name]; n != 1 {
			t.Errorf("%s: the committed job ran %d times, want once", e.name, n)
		}
		if n := runs["rolled-back via "+e.name]; n != 0 {
			t.Errorf("%s: the rolled-back job ran %d times", e.name, n)
		}
		if _, err := b.GetJob(ctx, "rolled-back via "+e.name); !errors.Is(err, asyncmqtype.ErrJobNotFound) {
			t.Errorf("%s: the rolled-back job: %v, want ErrJobNotFound", e.name, err)
		}
		j, err := b.GetJob(ctx, "committed via "+e.name)
		if err != nil || j.State != asyncmqtype.StateCompleted || j.Attempts != 1 {
			t.Errorf("%s: the committed job: %+v, %v; want completed after one attempt", e.name, j, err)
		}
	}
}
