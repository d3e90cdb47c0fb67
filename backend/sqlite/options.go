package sqlite

import (
	"log/slog"
	"time"
)

// Option configures a Backend at Open.
type Option func(*config)

type config struct {
	sync            SyncMode
	busyTimeout     time.Duration
	readConns       int
	eventRetention  int
	metricRetention time.Duration
	cacheKiB        int
	logger          *slog.Logger
	watchInterval   time.Duration
	integrityCheck  time.Duration
}

func defaultConfig() config {
	return config{
		sync:            SyncNormal,
		busyTimeout:     5 * time.Second,
		readConns:       4,
		eventRetention:  100_000,
		metricRetention: 7 * 24 * time.Hour,
		cacheKiB:        16 << 10,
		logger:          slog.New(slog.DiscardHandler),
		watchInterval:   DefaultWatchInterval,
		integrityCheck:  time.Second,
	}
}

// SyncMode is how hard SQLite pushes a commit to the disk (PRAGMA synchronous).
type SyncMode string

const (
	// SyncNormal (the default) does not fsync on each commit in WAL mode, only at checkpoints.
	// The database can never be corrupted by a crash, but a power loss or OS crash may roll back
	// the last transactions committed before it: an enqueue the caller saw succeed can vanish, or
	// a completed job can run again. A process crash (panic, kill -9) loses nothing. This is the
	// usual trade-off of a job queue with at-least-once delivery, and it makes commits several
	// times cheaper.
	SyncNormal SyncMode = "NORMAL"
	// SyncFull fsyncs the write-ahead log on every commit, so a committed transaction survives
	// power loss too, at the cost of one fsync per write transaction.
	SyncFull SyncMode = "FULL"
)

// Synchronous sets the commit durability; the default is SyncNormal.
func Synchronous(m SyncMode) Option {
	return func(c *config) { c.sync = m }
}

// BusyTimeout sets how long a call waits for another connection or process to release the
// database lock before it fails; the default is 5s. A call's context can end the wait sooner.
func BusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// ReadConns sets the size of the pool of read-only connections that serve listings and
// lookups; the default is 4. Writes always go through one connection per Backend.
func ReadConns(n int) Option {
	return func(c *config) { c.readConns = n }
}

// EventRetention sets how many of the newest lifecycle events the store keeps; older ones are
// deleted in the same transactions that add new ones, in chunks. The default is 100,000; the
// store holds at most about a tenth more than n.
func EventRetention(n int) Option {
	return func(c *config) { c.eventRetention = n }
}

// MetricsRetention sets how long the per-minute metric buckets are kept; the default is 7 days.
func MetricsRetention(d time.Duration) Option {
	return func(c *config) { c.metricRetention = d }
}

// CacheSize sets the page cache of the write connection in KiB, and half of it for each read
// connection; the default is 16384 (16 MiB). More is not always faster: SQLite walks the cached
// pages at every commit, which costs a write transaction several percent at 32 MiB.
func CacheSize(kib int) Option {
	return func(c *config) { c.cacheKiB = kib }
}

// Logger sets where the backend logs migrations and lock contention; the default discards.
func Logger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// DefaultWatchInterval is how often a Backend with subscribers looks for the commits of other
// connections unless WatchInterval says otherwise, where it cannot be told of them: on Linux the
// write-ahead log's inotify events wake it instead, and it polls only every 250ms as a safety net.
const DefaultWatchInterval = 5 * time.Millisecond

// WatchInterval sets how often a Backend that has subscribers (see Subscribe) looks for commits
// of other Backends and processes sharing the file, to wake its idle workers for their jobs. A
// look is one PRAGMA on a connection of its own; while nothing is written, it costs about 3% of
// a CPU core at the default 5ms, mostly in waking the Go runtime, and nothing while nobody
// subscribes. 0 turns watching off: AcrossProcesses reports false, and workers find the jobs of
// other processes when they poll.
func WatchInterval(d time.Duration) Option {
	return func(c *config) { c.watchInterval = d }
}

// IntegrityCheck bounds the quick integrity check (PRAGMA quick_check) Open runs on an existing
// file: a damaged file is refused, naming the problem, before anything writes to it. The check
// reads the whole file; past d (default 1s) it is interrupted and the file accepted, and a
// Backend whose writes then fail three times with SQLITE_CORRUPT stops with
// asyncmqtype.ErrStoreUnusable instead of failing forever. 0 skips the check at Open.
func IntegrityCheck(d time.Duration) Option {
	return func(c *config) { c.integrityCheck = d }
}
