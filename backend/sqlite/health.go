package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Two failures leave a Backend unusable for good, because carrying on would lose work silently:
//
//   - The file at the path is no longer the one opened (deleted, or replaced by a copy or a new
//     database). SQLite keeps writing to the open, now unreachable, file: workers would complete
//     jobs nobody can see, while producers that open the path afresh fill a file nobody works.
//   - The file's pages are damaged, so writes keep failing with SQLITE_CORRUPT.
//
// Either one makes every later write fail with an error wrapping asyncmqtype.ErrStoreUnusable
// that names the path and says what to do; a worker stops on it.

// identityCheckEvery spaces out the checks that the file at the path is still the one opened:
// one stat call, made by the write that finds the last check older than this. A failed write
// checks at once.
const identityCheckEvery = 250 * time.Millisecond

// corruptLimit is how many write transactions may fail with SQLITE_CORRUPT before the Backend
// gives up. The count is never reset by a success: a damaged file fails only the writes that
// touch its damaged pages (a claim, say), while others (heartbeats) still succeed, and no retry
// repairs it.
const corruptLimit = 3

// health is the state behind those two checks.
type health struct {
	// opened is the file as it was when Open finished, compared with os.SameFile (device and
	// inode on Unix).
	opened fs.FileInfo
	// checkedAt is the monotonic time of the last identity check, in nanoseconds since start.
	checkedAt atomic.Int64
	// corrupt counts the write transactions that failed with SQLITE_CORRUPT.
	corrupt atomic.Int32
	// broken, once set, is the error every later write returns.
	broken atomic.Pointer[error]
}

// monoStart anchors the monotonic clock behind health.checkedAt.
var monoStart = time.Now()

// remember records the file Open opened, for later identity checks.
func (h *health) remember(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat database file: %w", err)
	}
	h.opened = fi
	h.checkedAt.Store(int64(time.Since(monoStart)))
	return nil
}

// unusable returns the error that ended the Backend's use, or nil.
func (h *health) unusable() error {
	if p := h.broken.Load(); p != nil {
		return *p
	}
	return nil
}

// breakWith marks the Backend unusable with err, logging it once, and returns the error every
// write now returns.
func (b *Backend) breakWith(ctx context.Context, err error) error {
	if b.health.broken.CompareAndSwap(nil, &err) {
		b.cfg.logger.ErrorContext(ctx, "sqlite database unusable; stop and reopen it", "path", b.path, "error", err)
	}
	return b.health.unusable()
}

// checkIdentity fails when the file at the path is missing or is not the file this Backend
// opened. force skips the rate limit.
func (b *Backend) checkIdentity(ctx context.Context, force bool) error {
	if err := b.health.unusable(); err != nil {
		return err
	}
	if b.health.opened == nil {
		return nil // still opening
	}
	now := int64(time.Since(monoStart))
	if !force && now-b.health.checkedAt.Load() < int64(identityCheckEvery) {
		return nil
	}
	b.health.checkedAt.Store(now)
	fi, err := os.Stat(b.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return b.breakWith(ctx, fmt.Errorf("database file %s was deleted while this process had it open; its writes since went to the deleted file, which no other process can see: %w", b.path, asyncmqtype.ErrStoreUnusable))
	case err != nil:
		// A transient stat failure (a permission change, an NFS hiccup) proves nothing.
		return nil
	case !os.SameFile(fi, b.health.opened):
		return b.breakWith(ctx, fmt.Errorf("database file %s was replaced by another file while this process had it open; this process still writes to the old one, which no other process can see: %w", b.path, asyncmqtype.ErrStoreUnusable))
	}
	return nil
}

// afterWrite updates the health checks with the outcome of a write transaction and returns the
// error to give the caller: err itself, or the reason the Backend is now unusable.
func (b *Backend) afterWrite(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, asyncmqtype.ErrStoreUnusable) || errors.Is(err, asyncmqtype.ErrClosed) || ctx.Err() != nil {
		return err
	}
	if ierr := b.checkIdentity(ctx, true); ierr != nil {
		return fmt.Errorf("%w (the write failed with: %v)", ierr, err)
	}
	if !isCorrupt(err) {
		return err
	}
	if n := b.health.corrupt.Add(1); n >= corruptLimit {
		return b.breakWith(ctx, fmt.Errorf("database file %s is damaged: %d writes failed with SQLITE_CORRUPT; restore it from a backup, or recover it with the sqlite3 shell's .recover into a new file (last error: %v): %w",
			b.path, n, err, asyncmqtype.ErrStoreUnusable))
	}
	return err
}

// isCorrupt reports SQLite's result codes for damaged pages.
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
}
