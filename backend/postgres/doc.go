// Package postgres is the asyncmq store for PostgreSQL (13 or later), through pgx v5: jobs,
// queue settings, schedules, events, metrics and audit entries live in tables named asyncmq_*
// in one schema of the application's own database, so jobs can be enqueued in the same
// transaction as the data that caused them (EnqueueTx, EnqueueSQLTx).
//
//	b, err := postgres.Open(ctx, "postgres://app@db/app?schema=jobs")
//
// # Schema and migrations
//
// The schema is versioned; Open refuses one that is missing, behind or newer than this build.
// Migrate, MigrateDown and Status (the `asyncmq migrate up|down|status` commands) change it in
// one transaction under an advisory lock per schema, so processes starting together are safe;
// AutoMigrate (or migrate=auto in the URL) migrates at Open. The schema option of the URL sets
// the search_path of every connection, so several applications can share a database.
//
// # Cost
//
// Every hot transition is one statement, one round trip and one transaction, whatever the batch
// size, and writes its events and metrics in the same statement:
//
//   - Claim: the runnable jobs of each queue are read from the front of the claim index with
//     FOR UPDATE SKIP LOCKED, so concurrent workers take different jobs without waiting; only a
//     rate-limited queue's row is locked (to count its window).
//   - Finish: a batch of outcomes goes as parallel arrays (unnest) in one UPDATE, which also
//     releases the children of completed jobs; failed and cancelled jobs apply their
//     waiting-children jobs' parent-failure policies in a second statement of the same
//     transaction (qParentsEnded).
//   - Enqueue: concurrent calls of a process are grouped into one statement (see enqueuer); a
//     call of copyThreshold or more plain jobs goes through COPY in the binary format, in one
//     transaction of two round trips (copy.go).
//
// No row is written by every transition. There are no counters: per-state counts are one scan
// per queue grouped by state, exact for a queue of fewer than 10,000 jobs; a larger queue's
// counts are cached and recounted in the background by one goroutine, so they lag by up to
// CountsLag (10s), and its deep pages seek to a cached index key instead of stepping over their
// offset (listcache.go); no dashboard request waits for a recount while the cached value may be
// served.
// Keep retention short (Clean) for large volumes all the same. JIT is off unless the URL sets
// jit=on. Metrics are appended, one row per transaction and queue into
// asyncmq_metrics and one per transaction, queue and task into asyncmq_task_metrics (by the same
// statement), and summed when read; the maintenance pass folds each finished minute into one row
// per queue, and per task. Per-queue reads never touch the task rows. Events are
// appended to an unnumbered log and numbered in commit order when read (see Events); a claim, a
// batch of outcomes or an enqueue writes its events as one log row of parallel arrays, which the
// numbering expands.
//
// # Indexes
//
//   - asyncmq_jobs_claim (queue, priority, run_at, id) WHERE waiting and unblocked: exactly the
//     claim's filter and order, and only as large as the backlog.
//   - asyncmq_jobs_list (queue, state, created_at, id): dashboard listings in both directions,
//     their totals and the per-state counts, as index-only scans.
//   - asyncmq_jobs_delayed (run_at, id) WHERE delayed and asyncmq_jobs_lease (lease_expires_at,
//     id) WHERE leased: PromoteDue and RecoverStalled read only due rows.
//   - asyncmq_jobs_finished (queue, state, finished_at, id) WHERE finished: retention deletes the
//     oldest finished jobs of a queue and state in bounded batches (1,000 per transaction).
//   - asyncmq_jobs_unique (queue, unique_key) WHERE a key is set: the unique-key check.
//
// The jobs and event tables vacuum and analyze after 2% of their rows changed or were inserted
// (PostgreSQL's default is 20%), so dead rows of moved and deleted jobs do not pile up in the
// claim index between vacuums.
//
// # Clock, leaders, events
//
// A zero Now in any call is the server's clock: the Backend measures its skew from the host's
// clock at Open and every maintenance pass (see Backend.now), so workers on hosts whose clocks
// disagree still agree on lease expiry and due times. Elect keeps one row per role in
// asyncmq_leaders, taken by an upsert whose row lock orders concurrent candidates. Event cursors
// are sequence numbers assigned when events are read, under an advisory lock, in the order their
// transactions committed (see Events), so a reader resuming from a cursor sees every event once
// even while many processes write.
//
// # Wake-ups
//
// Transitions that make jobs runnable signal this process's subscribers at once and, after
// they commit, NOTIFY the schema's channel from one sender per Backend that coalesces what is
// signalled while a NOTIFY is under way (a NOTIFY inside each transaction would serialise
// their commits). Subscribe listens on one dedicated connection per Backend, reconnecting on
// its own. Behind a transaction-mode pooler, where LISTEN does not work, workers fall back to
// polling.
//
// # Queue counts
//
// Queues and Queue count each known queue's jobs per state from the listing index when called
// (exact, CountsLag 0). That costs in proportion to the jobs kept: a dashboard polling a store
// that keeps millions of jobs pays for it, and so does the worker's retention pass, which lists
// queues through Queues only for their names.
package postgres
