package cli

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/asyncmq/asyncmq/backend/sqlite"

	// The users store runs on SQLite (the queue's own file by default) or PostgreSQL.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// UsersDB returns the database/sql driver and DSN of the dashboard users database: usersDB when
// set (sqlite://PATH or postgres://...), else the queue's own SQLite file named by backendURL.
func UsersDB(backendURL, usersDB string) (driver, dsn string, err error) {
	if usersDB != "" {
		driver, dsn, ok := parseDBURL(usersDB)
		if !ok {
			return "", "", Usagef("--users-db (%s): want sqlite://PATH or postgres://USER@HOST/DB, got %q", EnvName("users-db"), redact.URL(usersDB))
		}
		return driver, dsn, nil
	}
	if path, ok := sqlite.PathFromURL(backendURL); ok {
		return "sqlite", path, nil
	}
	if isPostgres(backendURL) {
		dsn, err := postgres.SQLDSN(backendURL)
		if err != nil {
			return "", "", Usagef("--backend: %w", err)
		}
		return "pgx", dsn, nil
	}
	return "", "", Usagef("the users database defaults to the queue's own database, but --backend is neither sqlite:// nor postgres://: pass --users-db (%s) sqlite://PATH or postgres://...", EnvName("users-db"))
}

func parseDBURL(u string) (driver, dsn string, ok bool) {
	if path, ok := sqlite.PathFromURL(u); ok {
		return "sqlite", path, true
	}
	if isPostgres(u) {
		return "pgx", u, true
	}
	return "", "", false
}

// isPostgres reports a postgres:// or postgresql:// URL, in any case.
func isPostgres(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// PostgresSQLDSN returns the database/sql DSN of the PostgreSQL database a --backend URL names,
// and false when it names another store: the dashboard keeps its sessions there.
func PostgresSQLDSN(backendURL string) (string, bool) {
	if !isPostgres(backendURL) {
		return "", false
	}
	dsn, err := postgres.SQLDSN(backendURL)
	return dsn, err == nil
}

// OpenUsers opens the users store that UsersDB names, creating its tables if needed.
func OpenUsers(ctx context.Context, backendURL, usersDB string) (*users.SQLStore, error) {
	driver, dsn, err := UsersDB(backendURL, usersDB)
	if err != nil {
		return nil, err
	}
	s, err := users.OpenSQL(ctx, driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("users database %q: %w", redact.URL(dsnLabel(driver, dsn)), err)
	}
	return s, nil
}

func dsnLabel(driver, dsn string) string {
	if driver == "sqlite" {
		return "sqlite://" + dsn
	}
	return dsn
}

// OpenSQLite opens a SQLite file with database/sql, waiting up to 5 s for the queue's writers
// rather than failing with "database is locked".
func OpenSQLite(ctx context.Context, path string) (*sql.DB, error) {
	dsn := path
	if !strings.Contains(dsn, "busy_timeout") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
