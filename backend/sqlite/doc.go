// Package sqlite is the embedded asyncmq store, and the default one (sqlite://asyncmq.db): every
// job, queue setting, schedule, event, metric and audit entry lives in one SQLite file, through
// the pure-Go driver modernc.org/sqlite, so nothing needs to run beside the application.
//
//	b, err := sqlite.Open(ctx, "asyncmq.db")
//
// Importing the package also registers the "sqlite://" and "sqlite3://" URL schemes with
// backend.Open (and so asyncmq.Open): "sqlite://asyncmq.db" is relative to the working
// directory, "sqlite:///var/lib/asyncmq.db" absolute; PathFromURL reads the path of such a URL.
//
// A Backend implements backend.Store and backend.Notifier.
//
// # Sharing one file
//
// Several processes on one machine may open the same file at once: a dashboard, worker
// processes, the CLI. Each Backend writes through one connection, so its goroutines queue for
// it in the process, and every write transaction starts with BEGIN IMMEDIATE, which takes
// SQLite's write lock before it reads anything: a claim can never see a job that another
// process is claiming. A writer that finds the lock taken polls for it every few hundred
// microseconds until BusyTimeout (5s) passes or its context ends. Reads go through a separate
// pool of read-only connections and, in WAL mode, never wait for writers. A network file system
// is not a safe place for the file: SQLite's locks do not work reliably there.
//
// # Durability
//
// The database runs in WAL mode with synchronous=NORMAL (see SyncNormal for what a power loss
// can undo) and foreign keys on. Synchronous(SyncFull) makes every commit survive power loss.
//
// # Claims, events, leaders and wake-ups
//
// A Claim takes jobs of one queue, by priority, then RunAt, then ID, with one statement through
// the claim index; a worker serving several queues claims each on its own. An event's cursor is
// its row ID in decimal: the single writer assigns IDs in commit order, so reading after a
// cursor never skips an event that commits late. Leader leases (backend.Elector) are rows of
// asyncmq_leaders, taken and extended in write transactions like every other change.
//
// Subscribe signals, after the transaction commits, every transition of this Backend that may
// have made a queue's job claimable: an enqueue, a promotion, a retry, a release, a stalled job
// re-queued, a child whose last parent completed, a queue resumed. While a Backend has
// subscribers, it also polls PRAGMA data_version every WatchInterval (5ms) on a connection of its
// own and, when another Backend or process committed, reads the new events and signals the same
// transitions, so AcrossProcesses is true. One exception: a child released by a parent that
// completed in another process is found by polling. WatchInterval(0) turns the watching off.
//
// # Cost
//
// Claim and Finish are one write transaction each, whatever the batch size, and write their
// lifecycle events and metrics in the same transaction with one statement per kind (metrics: one
// upsert per queue, task and minute into asyncmq_task_metrics; a per-queue read sums a queue's
// task rows of each minute, so it reads one row per task name and minute: a day of one queue
// with 10 task names is 14,400 rows). Per-queue,
// per-state counts are counters updated by the transactions that move jobs (exact: CountsLag is
// 0), so Queues and Queue never count the jobs, and ListJobs reads a page through an index
// without touching the rows before it. Filtered listings (Task, ID, Text) and bulk actions by filter do read each job of
// the state. Events beyond EventRetention (100,000) and metrics older than MetricsRetention
// (7 days) are deleted as new ones are written; audit entries are kept. Compact, which the
// maintenance leader calls after each retention pass, also deletes the events older than the
// oldest stored job, so the log spans what retention keeps, and returns free pages to the file
// system in 4 MiB steps (auto_vacuum=INCREMENTAL; files from before schema version 4 are
// converted by one VACUUM at the first Open).
//
// # A replaced or damaged file
//
// Open runs PRAGMA quick_check for at most IntegrityCheck (1s) and refuses a damaged file.
// Writes check, at most every 250ms and after any failure, that the file at the path is still
// the one opened (os.SameFile: device and inode); a deleted or replaced file, or three writes
// failing with SQLITE_CORRUPT, make every later write fail with asyncmqtype.ErrStoreUnusable,
// on which a worker stops.
//
// # Schema
//
// Tables are named asyncmq_*, so the file may be an application's own database. Open applies
// the embedded schema migrations in one transaction and records the version in asyncmq_schema;
// a file whose schema is newer than this code knows is refused. So is a file that is not an
// SQLite database or is damaged, a folder, or a path whose folder is missing, before anything is
// written.
package sqlite
