package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations holds the schema steps in order; migrations[i] brings the schema to version i+1.
var migrations = loadMigrations()

func loadMigrations() []string {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for i, name := range names {
		// File names start with their version, so a gap or a duplicate is a build mistake.
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v != i+1 {
			panic(fmt.Sprintf("asyncmq/backend/sqlite: migration %s is out of sequence, want version %d", name, i+1))
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			panic(err)
		}
		out = append(out, string(body))
	}
	return out
}

// migrate applies the missing schema versions in one immediate transaction, so two processes
// opening a new file at once apply each step exactly once.
func (b *Backend) migrate(ctx context.Context) error {
	return b.retryBusy(ctx, time.Now().Add(b.cfg.busyTimeout), func() error { return b.migrateOnce(ctx) })
}

func (b *Backend) migrateOnce(ctx context.Context) error {
	var applied []int
	_, err := b.writeOnce(ctx, b.now(), func(w *wtx) error {
		applied = nil
		if err := w.script(`CREATE TABLE IF NOT EXISTS asyncmq_schema (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema version table: %w", err)
		}
		var v int
		if err := w.queryRow("SELECT coalesce(max(version), 0) FROM asyncmq_schema").Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > len(migrations) {
			return errNewerSchema(v)
		}
		for i := v; i < len(migrations); i++ {
			if err := w.script(migrations[i]); err != nil {
				return fmt.Errorf("apply schema version %d: %w", i+1, err)
			}
			if _, err := w.exec("INSERT INTO asyncmq_schema (version, applied_at) VALUES (?, ?)", i+1, nanoInt(w.now)); err != nil {
				return fmt.Errorf("record schema version %d: %w", i+1, err)
			}
			applied = append(applied, i+1)
		}
		return nil
	})
	for _, v := range applied {
		if err == nil {
			b.cfg.logger.InfoContext(ctx, "applied asyncmq schema migration", "path", b.path, "version", v)
		}
	}
	return err
}
