package users

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrationsTable records, per component, which schema versions have been applied. It is the
// store's own: the queue's migrations never touch it.
const migrationsTable = "asyncmq_users_migrations"

// migration is one schema step; each statement runs in order inside one transaction.
type migration struct {
	version  int
	sqlite   []string
	postgres []string
}

// Components migrate independently: an application that maps its own users table still gets the
// session table.
const (
	componentUsers    = "users"
	componentSessions = "sessions"
)

var migrations = map[string][]migration{
	componentUsers: {{
		version: 1,
		sqlite: []string{
			`CREATE TABLE asyncmq_users (
				id TEXT PRIMARY KEY,
				email TEXT NOT NULL DEFAULT '',
				display_name TEXT NOT NULL DEFAULT '',
				active BOOLEAN NOT NULL DEFAULT 1,
				admin BOOLEAN NOT NULL DEFAULT 0,
				password_hash TEXT NOT NULL DEFAULT '',
				created_at TEXT NOT NULL,
				updated_at TEXT NOT NULL
			)`,
			`CREATE TABLE asyncmq_user_roles (
				user_id TEXT NOT NULL REFERENCES asyncmq_users(id) ON DELETE CASCADE,
				role TEXT NOT NULL,
				PRIMARY KEY (user_id, role)
			)`,
		},
		postgres: []string{
			`CREATE TABLE asyncmq_users (
				id TEXT PRIMARY KEY,
				email TEXT NOT NULL DEFAULT '',
				display_name TEXT NOT NULL DEFAULT '',
				active BOOLEAN NOT NULL DEFAULT TRUE,
				admin BOOLEAN NOT NULL DEFAULT FALSE,
				password_hash TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE asyncmq_user_roles (
				user_id TEXT NOT NULL REFERENCES asyncmq_users(id) ON DELETE CASCADE,
				role TEXT NOT NULL,
				PRIMARY KEY (user_id, role)
			)`,
		},
	}},
	componentSessions: {{
		version: 1,
		// expiry is Unix microseconds, so expiry checks are the same integer comparison in both
		// dialects.
		sqlite: []string{
			`CREATE TABLE asyncmq_admin_sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry INTEGER NOT NULL)`,
			`CREATE INDEX asyncmq_admin_sessions_expiry_idx ON asyncmq_admin_sessions (expiry)`,
		},
		postgres: []string{
			`CREATE TABLE asyncmq_admin_sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry BIGINT NOT NULL)`,
			`CREATE INDEX asyncmq_admin_sessions_expiry_idx ON asyncmq_admin_sessions (expiry)`,
		},
	}},
}

// pgMigrationLock is the advisory lock key that serialises migrations across processes
// ("asyncmq" in ASCII).
const pgMigrationLock = 0x6173796e636d71

// migrate brings component up to the newest version this binary knows. It is safe to run from
// several processes at once: PostgreSQL serialises on an advisory lock, SQLite on BEGIN IMMEDIATE.
// A database migrated by a newer binary is refused rather than used with a schema we cannot read.
func migrate(ctx context.Context, db *sql.DB, d Dialect, component string) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s schema: connect: %w", component, err)
	}
	defer conn.Close()

	begin := "BEGIN IMMEDIATE"
	if d == Postgres {
		begin = "BEGIN"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return fmt.Errorf("migrate %s schema: begin: %w", component, err)
	}
	defer func() {
		if err != nil {
			// A fresh context: the caller's may be what failed, and the transaction must end.
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = conn.ExecContext(rctx, "ROLLBACK")
		}
	}()
	if d == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(pgMigrationLock)); err != nil {
			return fmt.Errorf("migrate %s schema: lock: %w", component, err)
		}
	}
	appliedType := "TEXT"
	if d == Postgres {
		appliedType = "TIMESTAMPTZ"
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+` (
		component TEXT NOT NULL,
		version INTEGER NOT NULL,
		applied_at `+appliedType+` NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("migrate %s schema: create %s: %w", component, migrationsTable, err)
	}
	var current sql.NullInt64
	if err := conn.QueryRowContext(ctx, d.rebind(`SELECT MAX(version) FROM `+migrationsTable+` WHERE component = ?`),
		component).Scan(&current); err != nil {
		return fmt.Errorf("migrate %s schema: read version: %w", component, err)
	}
	steps := migrations[component]
	latest := steps[len(steps)-1].version
	if int(current.Int64) > latest {
		return fmt.Errorf("migrate %s schema: database is at version %d, newer than the %d this binary supports",
			component, current.Int64, latest)
	}
	for _, m := range steps {
		if m.version <= int(current.Int64) {
			continue
		}
		stmts := m.sqlite
		if d == Postgres {
			stmts = m.postgres
		}
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migrate %s schema to version %d: %w", component, m.version, err)
			}
		}
		if _, err := conn.ExecContext(ctx, d.rebind(`INSERT INTO `+migrationsTable+` (component, version, applied_at) VALUES (?, ?, ?)`),
			component, m.version, d.timeArg(time.Now())); err != nil {
			return fmt.Errorf("migrate %s schema to version %d: record version: %w", component, m.version, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migrate %s schema: commit: %w", component, err)
	}
	return nil
}
