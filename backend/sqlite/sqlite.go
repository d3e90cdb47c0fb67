package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Backend is a backend.Store stored in one SQLite file. It is safe for concurrent use by
// several goroutines, and several Backends, in one process or in several, may share a file.
type Backend struct {
	path string
	cfg  config

	// w is the single write connection of this Backend: every write transaction of the process
	// queues for it, so SQLite's file lock is only contended between processes.
	w *writer
	// r is a pool of read-only connections; in WAL mode they never wait for the writer.
	r     *sql.DB
	reads readStmts
	enq   enqueuer
	// anchors make deep pages of a listing cheap; see anchors.go.
	anchors *anchorCache
	// totals spares large filtered listings a count per request; see totals.go.
	totals totalCache

	closed atomic.Bool
	// pruneAt is the event ID at which the next event prune runs.
	pruneAt atomic.Int64
	// metricsPrunedAt is the Unix second of the last metrics prune.
	metricsPrunedAt atomic.Int64

	now func() time.Time

	// signals wakes the workers waiting for a queue; see Subscribe.
	signals backend.Signals
	// watch signals the writes of other connections; see watch.go.
	watch watcher
	// health notices a replaced or damaged file; see health.go.
	health health
}

var (
	_ backend.Store    = (*Backend)(nil)
	_ backend.Notifier = (*Backend)(nil)
)

// sqliteMagic starts every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// Open opens the SQLite database at path, creating the file if it does not exist, and brings
// its schema up to date. The folder must exist. It fails, naming the path, when the file is a
// folder, is not an SQLite database, is damaged, or was written by a newer asyncmq whose schema
// this code does not know; in those cases nothing is created or changed.
//
// The database runs in WAL mode with foreign keys on and synchronous=NORMAL (see SyncNormal).
func Open(ctx context.Context, path string, opts ...Option) (*Backend, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
	}
	abs, fresh, err := checkPath(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
	}
	if !fresh {
		// Validate the file read-only before anything may write to it: switching to WAL
		// rewrites the header, which must not happen to a file that is not ours to fix.
		if err := probe(ctx, abs, cfg); err != nil {
			return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
		}
	}

	if fresh {
		// Create the file here, once: every connection opens it with mode=rw, so that a
		// connection opened after the file was deleted fails instead of creating a new, empty
		// database beside the one this Backend works on (see health.go).
		f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open sqlite database %q: create the file: %w", path, err)
		}
		f.Close()
	}

	b := &Backend{path: abs, cfg: cfg, anchors: newAnchorCache(), now: func() time.Time { return time.Now().UTC() }}
	b.watch.stop = make(chan struct{})
	b.watch.kick = make(chan struct{}, 1)
	b.totals.init()
	wdb, err := sql.Open("sqlite", dsn(abs, cfg, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	b.w = &writer{lock: make(chan struct{}, 1), db: wdb}
	if err := b.migrate(ctx); err != nil {
		b.w.close()
		return nil, fmt.Errorf("open sqlite database %q: %w", path, describe(err))
	}
	b.convertAutoVacuum(ctx)
	if err := b.health.remember(abs); err != nil {
		b.w.close()
		return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
	}
	b.r, err = sql.Open("sqlite", dsn(abs, cfg, true))
	if err != nil {
		b.w.close()
		return nil, fmt.Errorf("open sqlite database %q: %w", path, err)
	}
	b.r.SetMaxOpenConns(cfg.readConns)
	b.r.SetMaxIdleConns(cfg.readConns)
	b.r.SetConnMaxIdleTime(0)
	if err := b.r.PingContext(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("open sqlite database %q: %w", path, describe(err))
	}
	return b, nil
}

func (c config) validate() error {
	switch {
	case c.sync != SyncNormal && c.sync != SyncFull:
		return fmt.Errorf("unknown sync mode %q: %w", c.sync, asyncmqtype.ErrInvalid)
	case c.busyTimeout < 0:
		return fmt.Errorf("negative busy timeout %s: %w", c.busyTimeout, asyncmqtype.ErrInvalid)
	case c.readConns < 1:
		return fmt.Errorf("read connections %d, want at least 1: %w", c.readConns, asyncmqtype.ErrInvalid)
	case c.eventRetention < 1:
		return fmt.Errorf("event retention %d, want at least 1: %w", c.eventRetention, asyncmqtype.ErrInvalid)
	case c.metricRetention <= 0:
		return fmt.Errorf("metrics retention %s, want more than 0: %w", c.metricRetention, asyncmqtype.ErrInvalid)
	case c.cacheKiB < 0:
		return fmt.Errorf("negative cache size %d: %w", c.cacheKiB, asyncmqtype.ErrInvalid)
	case c.logger == nil:
		return fmt.Errorf("nil logger: %w", asyncmqtype.ErrInvalid)
	case c.watchInterval < 0:
		return fmt.Errorf("negative watch interval %s: %w", c.watchInterval, asyncmqtype.ErrInvalid)
	case c.integrityCheck < 0:
		return fmt.Errorf("negative integrity check limit %s: %w", c.integrityCheck, asyncmqtype.ErrInvalid)
	}
	return nil
}

// checkPath resolves path and rejects what SQLite would fail on obscurely, or would create in
// the wrong place. fresh reports that there is no database yet (no file, or an empty one).
func checkPath(path string) (abs string, fresh bool, err error) {
	if path == "" {
		return "", false, fmt.Errorf("empty path: %w", asyncmqtype.ErrInvalid)
	}
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", false, fmt.Errorf("resolve path: %w", err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(abs)
		di, derr := os.Stat(dir)
		if derr != nil {
			return "", false, fmt.Errorf("folder %s does not exist: %w", dir, derr)
		}
		if !di.IsDir() {
			return "", false, fmt.Errorf("%s is not a folder", dir)
		}
		return abs, true, nil
	case errors.Is(err, syscall.ENOTDIR):
		return "", false, errors.New("a parent of the path is a file, not a folder")
	case err != nil:
		return "", false, err
	case fi.IsDir():
		return "", false, errors.New("is a folder, not a database file")
	case !fi.Mode().IsRegular():
		return "", false, fmt.Errorf("is not a regular file (mode %s)", fi.Mode())
	case fi.Size() == 0:
		return abs, true, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", false, fmt.Errorf("read database file: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteMagic) {
		return "", false, errors.New("not an SQLite database (bad file header)")
	}
	return abs, false, nil
}

// probe reads the schema of an existing file without writing anything, which catches damaged
// files and newer schemas before a writable connection may touch them.
//
// A read-only connection to a WAL database creates the -wal and -shm files when they are
// missing, and cannot delete them again; so while there is no -wal file, which means that no
// process has the database open, the file is read as immutable. If that read fails because a
// process opened the database meanwhile, the probe is repeated read-only.
func probe(ctx context.Context, abs string, cfg config) error {
	if _, err := os.Stat(abs + "-wal"); errors.Is(err, fs.ErrNotExist) {
		err := probeWith(ctx, abs, "immutable=1", cfg)
		if _, werr := os.Stat(abs + "-wal"); err == nil || werr != nil {
			return err
		}
	}
	return probeWith(ctx, abs, "mode=ro&_pragma=busy_timeout(5000)", cfg)
}

func probeWith(ctx context.Context, abs, query string, cfg config) error {
	u := url.URL{Scheme: "file", Path: abs, RawQuery: query}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return describe(err)
	}
	var v int
	err = db.QueryRowContext(ctx, "SELECT max(version) FROM asyncmq_schema").Scan(&v)
	if err != nil {
		// No schema table: a plain SQLite file that Open will add asyncmq's tables to.
		return nil
	}
	if v > len(migrations) {
		return errNewerSchema(v)
	}
	return quickCheck(ctx, db, cfg)
}

// quickCheck runs PRAGMA quick_check, which reads every page and checks the b-trees' structure
// (not the indexes' contents), for at most cfg.integrityCheck: SQLite is interrupted when the
// time is up (the driver calls sqlite3_interrupt when the context ends), and a check that ran
// out of time counts as passed: a file too large to read in 1s is guarded at run time instead,
// where repeated SQLITE_CORRUPT errors make the Backend unusable (see health.go).
func quickCheck(ctx context.Context, db *sql.DB, cfg config) error {
	if cfg.integrityCheck <= 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.integrityCheck)
	defer cancel()
	rows, err := db.QueryContext(cctx, "PRAGMA quick_check(5)")
	var found []string
	if err == nil {
		for rows.Next() {
			var line string
			if err = rows.Scan(&line); err != nil {
				break
			}
			found = append(found, line)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	switch {
	case cctx.Err() != nil && ctx.Err() == nil:
		cfg.logger.InfoContext(ctx, "sqlite integrity check ran out of time; the rest of the file is checked by use", "limit", cfg.integrityCheck)
		return nil
	case err != nil && isCorrupt(err):
		return fmt.Errorf("database file is damaged (quick_check: %v); restore it from a backup, or recover it with the sqlite3 shell's .recover into a new file", err)
	case err != nil:
		return fmt.Errorf("check database integrity: %w", err)
	case len(found) == 1 && found[0] == "ok":
		return nil
	}
	return fmt.Errorf("database file is damaged (quick_check: %s); restore it from a backup, or recover it with the sqlite3 shell's .recover into a new file", strings.Join(found, "; "))
}

func errNewerSchema(v int) error {
	return fmt.Errorf("schema version %d is newer than version %d, the newest this build of asyncmq knows; upgrade asyncmq", v, len(migrations))
}

func dsn(abs string, cfg config, readOnly bool) string {
	// mode=rw never creates the file: Open did, and a connection opened later must not
	// recreate one that was deleted.
	q := url.Values{"mode": {"rw"}}
	ms := strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)
	cache := cfg.cacheKiB
	if readOnly {
		cache /= 2
		q.Add("_query_only", "1")
	} else {
		// Writers take the lock at BEGIN: a deferred transaction that reads and then writes can
		// fail with SQLITE_BUSY at the upgrade without the busy handler ever waiting. The writer
		// has no busy handler; Backend.retryBusy polls for the lock instead.
		ms = "0"
		q.Add("_txlock", "immediate")
		// Takes effect in a new file only, before its first table; older files are converted
		// once by convertAutoVacuum.
		q.Add("_pragma", "auto_vacuum(INCREMENTAL)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+string(cfg.sync)+")")
		q.Add("_pragma", "journal_size_limit(67108864)")
	}
	q.Add("_pragma", "busy_timeout("+ms+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(memory)")
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(cache)+")")
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// describe turns SQLite's result codes for a bad file into words a user can act on.
func describe(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("not an SQLite database: %w", err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("database file is damaged: %w", err)
	case sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("cannot open database file: %w", err)
	case sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY:
		return fmt.Errorf("database file is not writable: %w", err)
	}
	return err
}

// Path returns the absolute path of the database file.
func (b *Backend) Path() string { return b.path }

// Ping checks that the database file answers by reading its schema version.
func (b *Backend) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("ping sqlite database: %w", asyncmqtype.ErrClosed)
	}
	var v int
	if err := b.queryRow(ctx, "SELECT max(version) FROM asyncmq_schema").Scan(&v); err != nil {
		return fmt.Errorf("ping sqlite database %q: %w", b.path, b.fail(err))
	}
	return nil
}

// Close closes the connections. Calls after Close fail with asyncmqtype.ErrClosed.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.stopWatch()
	b.totals.close()
	var errs []error
	if b.r != nil {
		errs = append(errs, b.r.Close())
	}
	errs = append(errs, b.w.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite database %q: %w", b.path, err)
	}
	return nil
}

// fail reports calls that raced with Close as asyncmqtype.ErrClosed.
func (b *Backend) fail(err error) error {
	if err != nil && b.closed.Load() && !errors.Is(err, asyncmqtype.ErrClosed) {
		return fmt.Errorf("%w (%v)", asyncmqtype.ErrClosed, err)
	}
	return err
}

func (b *Backend) clock(t time.Time) time.Time {
	if t.IsZero() {
		return b.now()
	}
	return t.UTC()
}
