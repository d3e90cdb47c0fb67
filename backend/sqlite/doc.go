// Package sqlite is the embedded asyncmq store, and the default one (sqlite://asyncmq.db): every
// job, queue setting, schedule, event, metric and audit entry lives in one SQLite file, through
// the pure-Go driver modernc.org/sqlite, so nothing needs to run beside the application.
//
//	b, err := sqlite.Open(ctx, "asyncmq.db")
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
// # Cost
//
// Claim and Finish are one write transaction each, whatever the batch size, and write their
// lifecycle events and metrics in the same transaction with one statement per kind. Per-queue,
// per-state counts are counters updated by the transactions that move jobs, so Queues and Queue
// never count the jobs, and ListJobs reads a page through an index without touching the rows
// before it. Filtered listings (Task, ID, Text) and bulk actions by filter do read each job of
// the state. Events beyond EventRetention (100,000) and metrics older than MetricsRetention
// (7 days) are deleted as new ones are written; audit entries are kept.
//
// # Schema
//
// Tables are named asyncmq_*, so the file may be an application's own database. Open applies
// the embedded schema migrations in one transaction and records the version in asyncmq_schema;
// a file whose schema is newer than this code knows is refused. So is a file that is not an
// SQLite database or is damaged, a folder, or a path whose folder is missing, before anything is
// written.
package sqlite
