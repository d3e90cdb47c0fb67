package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// Space. Deleting rows frees pages inside the file, which SQLite reuses but never gives back on
// its own. With auto_vacuum=INCREMENTAL (every file since schema version 4) Compact returns them
// to the file system in steps of vacuumStepPages, each its own short write transaction, so the
// workers' claims interleave with a large reclaim.
//
// Events outlive their jobs otherwise: the event log is bounded by EventRetention (100,000), far
// more than a store whose retention keeps a few thousand jobs needs. Compact deletes the events
// older than the oldest job still stored: their jobs were deleted by retention (or by hand), so
// the log spans the same time as the jobs. EventRetention stays the ceiling.

const (
	// vacuumStepPages is how many free pages one incremental_vacuum step returns: 4 MiB of 4 KiB
	// pages. A step moves at most that many pages from the end of the file into free slots and
	// truncates it, so it holds the write lock about as long as a claim of a few hundred jobs.
	vacuumStepPages = 1024
	// vacuumSteps bounds the steps of one Compact call; the next call does the rest.
	vacuumSteps = 16
	// eventChunks bounds the chunks of events one Compact call deletes.
	eventChunks = 50
)

var _ backend.Compactor = (*Backend)(nil)

const (
	qOldestJob = `SELECT created_at FROM asyncmq_jobs ORDER BY seq LIMIT 1`
	// qEventCut is the ID of the first event at or after the horizon, or of the newest event:
	// the newest is always kept, so that a new event never reuses an ID (see migration 0001).
	qEventCut = `SELECT coalesce((SELECT id FROM asyncmq_events WHERE at >= ?1 ORDER BY id LIMIT 1),
	(SELECT max(id) FROM asyncmq_events), 0)`
	qEventPruneChunk = `DELETE FROM asyncmq_events WHERE id IN (SELECT id FROM asyncmq_events WHERE id < ? ORDER BY id LIMIT ?)`
)

// Compact deletes the events older than the oldest stored job and returns free pages of the
// file to the file system, at most 16 steps of 4 MiB; see the comment at the head of compact.go.
func (b *Backend) Compact(ctx context.Context, p backend.CompactParams) (backend.CompactResult, error) {
	var res backend.CompactResult
	n, err := b.pruneOrphanEvents(ctx, b.clock(p.Now))
	res.Events = n
	if err != nil {
		return res, fmt.Errorf("compact: delete the events of deleted jobs: %w", err)
	}
	res.Bytes, err = b.vacuumSteps(ctx, vacuumSteps)
	if err != nil {
		return res, fmt.Errorf("compact: return free pages: %w", err)
	}
	return res, nil
}

func (b *Backend) pruneOrphanEvents(ctx context.Context, now time.Time) (int, error) {
	horizon := nanoInt(now)
	var oldest int64
	switch err := b.queryRow(ctx, qOldestJob).Scan(&oldest); {
	case err == nil:
		horizon = min(horizon, oldest)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, b.fail(err)
	}
	var cut int64
	if err := b.queryRow(ctx, qEventCut, horizon).Scan(&cut); err != nil {
		return 0, b.fail(err)
	}
	total := 0
	for range eventChunks {
		var n int64
		err := b.write(ctx, now, func(w *wtx) error {
			r, err := w.exec(qEventPruneChunk, cut, chunk)
			if err != nil {
				return err
			}
			n, err = r.RowsAffected()
			return err
		})
		total += int(n)
		if err != nil || n < chunk {
			return total, err
		}
	}
	return total, nil
}

// vacuumSteps runs at most steps incremental_vacuum steps and returns the bytes given back.
func (b *Backend) vacuumSteps(ctx context.Context, steps int) (int64, error) {
	var freed int64
	for range steps {
		var before, after, pageSize int64
		err := b.write(ctx, b.now(), func(w *wtx) error {
			if err := w.queryRow("PRAGMA freelist_count").Scan(&before); err != nil || before == 0 {
				return err
			}
			if err := w.queryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
				return err
			}
			if _, err := w.exec(fmt.Sprintf("PRAGMA incremental_vacuum(%d)", vacuumStepPages)); err != nil {
				return err
			}
			return w.queryRow("PRAGMA freelist_count").Scan(&after)
		})
		if err != nil {
			return freed, err
		}
		freed += (before - after) * pageSize
		// A file in auto_vacuum=NONE mode (its conversion failed) frees nothing.
		if after == 0 || after >= before {
			return freed, nil
		}
	}
	return freed, nil
}

// convertAutoVacuum switches a file created before schema version 4 to auto_vacuum=INCREMENTAL.
// That takes one VACUUM, which rewrites the whole file: it holds the write lock for about as
// long as reading and writing the file's live data takes (a few ms per MB; 1.2s for a 70 MB file
// holding 13 MB of rows on the test machine), and needs free disk space for a copy of the live
// data plus, in WAL mode, a log as large. It runs once, at the first Open after the upgrade; a
// failure (a full disk) is logged and retried at the next Open, and the store works meanwhile,
// without giving space back.
func (b *Backend) convertAutoVacuum(ctx context.Context) {
	var mode int
	err := b.rawWrite(ctx, func(c *sql.Conn) error {
		return c.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode)
	})
	if err != nil || mode == 2 {
		return
	}
	var size int64
	if fi, err := os.Stat(b.path); err == nil {
		size = fi.Size()
	}
	b.cfg.logger.InfoContext(ctx, "converting the sqlite database to incremental auto-vacuum: a one-time VACUUM rewrites the file", "path", b.path, "bytes", size)
	start := time.Now()
	err = b.retryBusy(ctx, time.Now().Add(b.cfg.busyTimeout), func() error {
		return b.rawWrite(ctx, func(c *sql.Conn) error {
			// A temporary file rather than memory holds the copy, so a large file does not need
			// its size in RAM.
			for _, q := range []string{"PRAGMA auto_vacuum = INCREMENTAL", "PRAGMA temp_store = FILE", "VACUUM"} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					_, _ = c.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = MEMORY")
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			_, err := c.ExecContext(ctx, "PRAGMA temp_store = MEMORY")
			return err
		})
	})
	if err != nil {
		b.cfg.logger.ErrorContext(ctx, "convert the sqlite database to incremental auto-vacuum; freed space stays in the file until this succeeds at a later open", "path", b.path, "error", err)
		return
	}
	var after int64
	if fi, err := os.Stat(b.path); err == nil {
		after = fi.Size()
	}
	b.cfg.logger.InfoContext(ctx, "converted the sqlite database to incremental auto-vacuum", "path", b.path, "took", time.Since(start), "bytes_before", size, "bytes_after", after)
}

// rawWrite runs fn on the write connection outside any transaction, for statements that
// cannot run in one (VACUUM).
func (b *Backend) rawWrite(ctx context.Context, fn func(c *sql.Conn) error) error {
	wr := b.w
	if err := wr.acquire(ctx); err != nil {
		return fmt.Errorf("wait for the write connection: %w", err)
	}
	defer wr.release()
	c, err := wr.connection(ctx)
	if err != nil {
		return fmt.Errorf("open write connection: %w", err)
	}
	return fn(c)
}
