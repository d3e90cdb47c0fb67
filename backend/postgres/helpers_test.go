package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/asyncmq/asyncmq/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func testURL(t testing.TB) string { return pgtest.URL(t) }

func freshSchema(t testing.TB) string { return pgtest.FreshSchema(t) }

// open opens a migrated store on url and closes it when the test ends.
func open(t testing.TB, url string, opts ...postgres.Option) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(context.Background(), url, append([]postgres.Option{postgres.AutoMigrate(), postgres.MaxConns(4)}, opts...)...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// The conformance suite runs over a hundred subtests, each on an empty store. Migrating a new
// schema for each costs more than the subtest; instead a subtest takes a migrated schema from
// this pool, and when it ends (its stores closed) the schema's tables are emptied and it goes
// back. Only one test uses a schema at a time, so tests stay isolated and run in parallel.
var schemas struct {
	sync.Mutex
	idle []string
}

// emptyTables empties every table of a store's schema between two tests.
const emptyTables = `TRUNCATE asyncmq_jobs, asyncmq_job_deps, asyncmq_queues, asyncmq_event_log, asyncmq_events,
	asyncmq_metrics, asyncmq_task_metrics, asyncmq_repeatables, asyncmq_workers, asyncmq_audit, asyncmq_leaders RESTART IDENTITY`

// schemaConn returns a plain connection to the schema of the store URL u, for checking a store
// against SQL; it is closed when t ends.
func schemaConn(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	dsn, err := postgres.SQLDSN(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to the test schema: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// pooledSchema returns the URL of a migrated, empty schema that only t uses, returned to the
// pool (emptied) when t ends. Register it before opening stores on it, so they close first.
func pooledSchema(t *testing.T) string {
	t.Helper()
	schemas.Lock()
	var u string
	if n := len(schemas.idle); n > 0 {
		u, schemas.idle = schemas.idle[n-1], schemas.idle[:n-1]
	}
	schemas.Unlock()
	if u == "" {
		u = pgtest.PersistentSchema(t)
		b, err := postgres.Open(context.Background(), u, postgres.AutoMigrate())
		if err != nil {
			t.Fatalf("migrate a pooled schema: %v", err)
		}
		b.Close()
	}
	t.Cleanup(func() {
		dsn, err := postgres.SQLDSN(u)
		if err != nil {
			t.Error(err)
			return
		}
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("empty a pooled schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), emptyTables); err != nil {
			t.Errorf("empty a pooled schema: %v", err)
			return
		}
		schemas.Lock()
		schemas.idle = append(schemas.idle, u)
		schemas.Unlock()
	})
	return u
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.DropPersistentSchemas()
	os.Exit(code)
}
