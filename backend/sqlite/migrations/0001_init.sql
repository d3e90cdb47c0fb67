-- The initial asyncmq schema. Times are Unix nanoseconds (UTC); NULL means "not yet".

-- jobs keeps an integer rowid (seq) so that the secondary indexes stay narrow; id is the
-- caller's time-ordered identifier.
CREATE TABLE asyncmq_jobs (
	seq              INTEGER PRIMARY KEY,
	id               TEXT    NOT NULL UNIQUE,
	queue            TEXT    NOT NULL,
	task             TEXT    NOT NULL,
	payload          TEXT,
	state            TEXT    NOT NULL,
	priority         INTEGER NOT NULL DEFAULT 0,
	attempts         INTEGER NOT NULL DEFAULT 0,
	max_retries      INTEGER NOT NULL DEFAULT 0,
	backoff_kind     TEXT    NOT NULL DEFAULT '',
	backoff_base     INTEGER NOT NULL DEFAULT 0,
	backoff_max      INTEGER NOT NULL DEFAULT 0,
	backoff_jitter   REAL    NOT NULL DEFAULT 0,
	timeout          INTEGER NOT NULL DEFAULT 0,
	run_at           INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	started_at       INTEGER,
	finished_at      INTEGER,
	result           TEXT,
	progress         TEXT,
	errors           TEXT,
	worker_id        TEXT    NOT NULL DEFAULT '',
	lease_token      TEXT    NOT NULL DEFAULT '',
	lease_expires_at INTEGER,
	stalls           INTEGER NOT NULL DEFAULT 0,
	unique_key       TEXT,
	unique_until     INTEGER,
	depends_on       TEXT,
	pending_deps     INTEGER NOT NULL DEFAULT 0,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	repeatable_id    TEXT    NOT NULL DEFAULT ''
);

-- Listings page through one queue and state by creation time in either direction; the index
-- covers the page query (seq is implicit), so an offset only walks index entries.
CREATE INDEX asyncmq_jobs_list ON asyncmq_jobs (queue, state, created_at, id);

-- Claim reads the runnable jobs of one queue in claim order; blocked and non-waiting jobs
-- stay out of this index.
CREATE INDEX asyncmq_jobs_claim ON asyncmq_jobs (queue, priority, run_at, id)
	WHERE state = 'waiting' AND pending_deps = 0;

-- Promotion and stall recovery take jobs in due order.
CREATE INDEX asyncmq_jobs_delayed ON asyncmq_jobs (run_at, id) WHERE state = 'delayed';

CREATE INDEX asyncmq_jobs_lease ON asyncmq_jobs (lease_expires_at, id) WHERE state = 'active';

CREATE INDEX asyncmq_jobs_unique ON asyncmq_jobs (queue, unique_key) WHERE unique_key IS NOT NULL;

-- Clean deletes the oldest finished jobs of a queue and state.
CREATE INDEX asyncmq_jobs_finished ON asyncmq_jobs (queue, state, finished_at, id)
	WHERE finished_at IS NOT NULL;

-- One row per dependency a child still waits for; the row goes when the parent completes, or
-- with either job. A child whose parent is deleted before it completed stays blocked.
CREATE TABLE asyncmq_job_deps (
	parent TEXT NOT NULL REFERENCES asyncmq_jobs (id) ON DELETE CASCADE,
	child  TEXT NOT NULL REFERENCES asyncmq_jobs (id) ON DELETE CASCADE,
	PRIMARY KEY (parent, child)
) WITHOUT ROWID;

CREATE INDEX asyncmq_job_deps_child ON asyncmq_job_deps (child);

-- A queue is known once it has a job, a setting or a repeatable. The per-state counters are
-- kept here, updated in the transaction that moves the jobs, so listing queues never counts
-- the jobs table.
CREATE TABLE asyncmq_queues (
	name              TEXT    PRIMARY KEY,
	paused            INTEGER NOT NULL DEFAULT 0,
	rate_limit        INTEGER NOT NULL DEFAULT 0,
	rate_interval     INTEGER NOT NULL DEFAULT 0,
	rate_window_start INTEGER NOT NULL DEFAULT 0,
	rate_window_count INTEGER NOT NULL DEFAULT 0,
	waiting           INTEGER NOT NULL DEFAULT 0,
	active            INTEGER NOT NULL DEFAULT 0,
	delayed           INTEGER NOT NULL DEFAULT 0,
	completed         INTEGER NOT NULL DEFAULT 0,
	failed            INTEGER NOT NULL DEFAULT 0,
	cancelled         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Event IDs are never reused without AUTOINCREMENT (which costs every transaction a write of
-- sqlite_sequence): a new rowid is one more than the largest, and pruning deletes the oldest
-- events only, always keeping the newest.
CREATE TABLE asyncmq_events (
	id     INTEGER PRIMARY KEY,
	type   TEXT    NOT NULL,
	queue  TEXT    NOT NULL,
	job_id TEXT    NOT NULL DEFAULT '',
	task   TEXT    NOT NULL DEFAULT '',
	state  TEXT    NOT NULL DEFAULT '',
	at     INTEGER NOT NULL,
	detail TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE asyncmq_metrics (
	queue        TEXT    NOT NULL,
	minute       INTEGER NOT NULL,
	completed    INTEGER NOT NULL DEFAULT 0,
	failed       INTEGER NOT NULL DEFAULT 0,
	retried      INTEGER NOT NULL DEFAULT 0,
	duration_sum INTEGER NOT NULL DEFAULT 0,
	wait_sum     INTEGER NOT NULL DEFAULT 0,
	started      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (queue, minute)
) WITHOUT ROWID;

CREATE INDEX asyncmq_metrics_minute ON asyncmq_metrics (minute);

CREATE TABLE asyncmq_repeatables (
	id          TEXT    PRIMARY KEY,
	queue       TEXT    NOT NULL,
	task        TEXT    NOT NULL,
	payload     TEXT,
	cron        TEXT    NOT NULL DEFAULT '',
	interval    INTEGER NOT NULL DEFAULT 0,
	priority    INTEGER NOT NULL DEFAULT 0,
	max_retries INTEGER NOT NULL DEFAULT 0,
	paused      INTEGER NOT NULL DEFAULT 0,
	next_run    INTEGER,
	last_run    INTEGER,
	created_at  INTEGER NOT NULL
);

CREATE INDEX asyncmq_repeatables_queue ON asyncmq_repeatables (queue, id);

CREATE TABLE asyncmq_workers (
	id             TEXT    PRIMARY KEY,
	hostname       TEXT    NOT NULL DEFAULT '',
	pid            INTEGER NOT NULL DEFAULT 0,
	queues         TEXT    NOT NULL DEFAULT '[]',
	concurrency    INTEGER NOT NULL DEFAULT 0,
	started_at     INTEGER,
	last_heartbeat INTEGER,
	active         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Audit entries are never deleted, so their IDs only grow.
CREATE TABLE asyncmq_audit (
	id     INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	actor  TEXT    NOT NULL DEFAULT '',
	action TEXT    NOT NULL DEFAULT '',
	status TEXT    NOT NULL DEFAULT '',
	queue  TEXT    NOT NULL DEFAULT '',
	job_id TEXT    NOT NULL DEFAULT '',
	source TEXT    NOT NULL DEFAULT '',
	detail TEXT    NOT NULL DEFAULT '',
	error  TEXT    NOT NULL DEFAULT ''
);
