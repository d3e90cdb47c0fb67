package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/asyncmq/asyncmq/internal/redact"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one schema step, with the SQL that applies it and the SQL that undoes it.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// migrations holds the schema steps in order; migrations[i] brings the schema to version i+1.
var migrations = loadMigrations()

func loadMigrations() []Migration {
	names, err := fs.Glob(migrationFS, "migrations/*.up.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for i, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".up.sql")
		num, label, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			panic(fmt.Sprintf("asyncmq/backend/postgres: migration %s is out of sequence, want version %d", name, i+1))
		}
		up, err := migrationFS.ReadFile(name)
		if err != nil {
			panic(err)
		}
		down, err := migrationFS.ReadFile("migrations/" + base + ".down.sql")
		if err != nil {
			panic(fmt.Sprintf("asyncmq/backend/postgres: migration %s has no down step", name))
		}
		out = append(out, Migration{Version: v, Name: label, Up: string(up), Down: string(down)})
	}
	return out
}

// Migrations returns the schema steps this build knows, oldest first.
func Migrations() []Migration { return append([]Migration(nil), migrations...) }

// SchemaStatus describes the asyncmq schema of a database.
type SchemaStatus struct {
	// Schema is the PostgreSQL schema holding the tables.
	Schema string `json:"schema"`
	// Current is the applied version, 0 when none.
	Current int `json:"current"`
	// Latest is the newest version this build knows.
	Latest int `json:"latest"`
}

// MigrateOptions tune Migrate and MigrateDown.
type MigrateOptions struct {
	// DryRun returns the steps that would run without running them.
	DryRun bool
	// Logger receives one line per step applied; nil discards.
	Logger *slog.Logger
}

const qSchemaTable = `CREATE TABLE IF NOT EXISTS asyncmq_schema (
	version    integer     PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// qMigrateLock serialises migrations of one schema across processes for one transaction.
const qMigrateLock = `SELECT pg_advisory_xact_lock(hashtextextended('asyncmq.migrate.' || current_schema(), 0))`

// Migrate brings the asyncmq schema named by url (see Open for the URL) up to date, in one
// transaction under an advisory lock, so processes starting together apply each step once. It
// returns the steps applied (with DryRun, the steps that would be). A schema newer than this
// build is refused.
func Migrate(ctx context.Context, url string, o MigrateOptions) ([]Migration, error) {
	return withConn(ctx, url, "migrate up", func(pool pgxQuerierBegin, schema string) ([]Migration, error) {
		return migrate(ctx, pool, schema, len(migrations), o.DryRun, o.Logger)
	})
}

// MigrateDown undoes the newest applied schema step, in one transaction under the same lock as
// Migrate, and returns it. Undoing version 1 drops every asyncmq table of the schema, with its
// jobs.
func MigrateDown(ctx context.Context, url string, o MigrateOptions) ([]Migration, error) {
	return withConn(ctx, url, "migrate down", func(pool pgxQuerierBegin, schema string) ([]Migration, error) {
		v, err := schemaVersion(ctx, pool)
		if err != nil {
			return nil, err
		}
		if v == 0 {
			return nil, nil
		}
		return migrate(ctx, pool, schema, v-1, o.DryRun, o.Logger)
	})
}

// Status reports the applied and the latest schema version.
func Status(ctx context.Context, url string) (SchemaStatus, error) {
	var st SchemaStatus
	_, err := withConn(ctx, url, "read schema status", func(pool pgxQuerierBegin, schema string) ([]Migration, error) {
		v, err := schemaVersion(ctx, pool)
		st = SchemaStatus{Schema: schema, Current: v, Latest: len(migrations)}
		return nil, err
	})
	return st, err
}

type pgxQuerierBegin interface {
	pgxQuerier
	Begin(ctx context.Context) (pgx.Tx, error)
}

func withConn(ctx context.Context, url, what string, fn func(pgxQuerierBegin, string) ([]Migration, error)) ([]Migration, error) {
	shown := redact.URL(url)
	pc, schema, _, err := parseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, shown, err)
	}
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, shown, describe(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	out, err := fn(conn, schema)
	if err != nil {
		return out, fmt.Errorf("%s %q: %w", what, shown, describe(err))
	}
	return out, nil
}

// schemaVersion reads the applied version; 0 when the schema has no asyncmq tables.
func schemaVersion(ctx context.Context, q pgxQuerier) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM asyncmq_schema`).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	return v, err
}

// migrate moves the schema to version target, up or down, in one transaction.
func migrate(ctx context.Context, db pgxQuerierBegin, schema string, target int, dryRun bool, logger *slog.Logger) ([]Migration, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var steps []Migration
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qMigrateLock); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, qSchemaTable); err != nil {
			return fmt.Errorf("create schema version table: %w", err)
		}
		v, err := schemaVersion(ctx, tx)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > len(migrations) {
			return errNewerSchema(schema, v)
		}
		for i := v; i < target; i++ {
			steps = append(steps, migrations[i])
			if dryRun {
				continue
			}
			if _, err := tx.Exec(ctx, migrations[i].Up); err != nil {
				return fmt.Errorf("apply schema version %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO asyncmq_schema (version) VALUES ($1)`, i+1); err != nil {
				return fmt.Errorf("record schema version %d: %w", i+1, err)
			}
		}
		for i := v; i > target; i-- {
			steps = append(steps, migrations[i-1])
			if dryRun {
				continue
			}
			if _, err := tx.Exec(ctx, migrations[i-1].Down); err != nil {
				return fmt.Errorf("undo schema version %d: %w", i, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM asyncmq_schema WHERE version = $1`, i); err != nil {
				return fmt.Errorf("record undoing schema version %d: %w", i, err)
			}
		}
		if dryRun {
			// Not even the version table stays behind.
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if !dryRun {
		for _, m := range steps {
			dir := "up"
			if target < m.Version {
				dir = "down"
			}
			logger.InfoContext(ctx, "ran asyncmq schema migration", "schema", schema, "direction", dir, "version", m.Version, "name", m.Name)
		}
	}
	return steps, nil
}

var errDryRun = errors.New("dry run")
