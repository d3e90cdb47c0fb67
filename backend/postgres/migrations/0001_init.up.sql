-- The initial asyncmq schema for PostgreSQL. Times are timestamptz (microseconds); durations are
-- bigint nanoseconds, as Go's time.Duration. NULL means "not yet".

-- Jobs churn: every job is inserted, updated a few times and deleted by retention. Vacuum and
-- analyze run after 2% of the rows changed (or were inserted) instead of PostgreSQL's 20%, so
-- the dead rows of moved and deleted jobs are reclaimed while there are few of them, and the
-- claim index does not fill with dead entries that every claim would have to step over.
CREATE TABLE asyncmq_jobs (
	id               text        NOT NULL PRIMARY KEY,
	queue            text        NOT NULL,
	task             text        NOT NULL,
	state            text        NOT NULL,
	priority         integer     NOT NULL DEFAULT 0,
	attempts         integer     NOT NULL DEFAULT 0,
	max_retries      integer     NOT NULL DEFAULT 0,
	pending_deps     integer     NOT NULL DEFAULT 0,
	stalls           integer     NOT NULL DEFAULT 0,
	cancel_requested boolean     NOT NULL DEFAULT false,
	-- has_children is set by the enqueue of a job that depends on this one; see finish.go.
	has_children     boolean     NOT NULL DEFAULT false,
	backoff_jitter   float8      NOT NULL DEFAULT 0,
	backoff_base     bigint      NOT NULL DEFAULT 0,
	backoff_max      bigint      NOT NULL DEFAULT 0,
	timeout          bigint      NOT NULL DEFAULT 0,
	run_at           timestamptz NOT NULL,
	created_at       timestamptz NOT NULL,
	started_at       timestamptz,
	finished_at      timestamptz,
	lease_expires_at timestamptz,
	unique_until     timestamptz,
	backoff_kind     text        NOT NULL DEFAULT '',
	worker_id        text        NOT NULL DEFAULT '',
	lease_token      text        NOT NULL DEFAULT '',
	repeatable_id    text        NOT NULL DEFAULT '',
	unique_key       text,
	depends_on       text[],
	payload          jsonb,
	result           jsonb,
	progress         jsonb,
	errors           jsonb,
	CONSTRAINT asyncmq_jobs_state_check CHECK (state IN ('waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled'))
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
	autovacuum_vacuum_insert_scale_factor = 0.02);

-- Claim: the runnable jobs of one queue in claim order. Partial, so blocked, delayed, active and
-- finished jobs never enter it: it stays as small as the backlog, and FOR UPDATE SKIP LOCKED walks
-- it from the front.
CREATE INDEX asyncmq_jobs_claim ON asyncmq_jobs (queue, priority, run_at, id)
	WHERE state = 'waiting' AND pending_deps = 0;

-- Dashboard listings page through one queue and state by creation time, either direction, and
-- per-state counts are index-only scans of its (queue, state) prefix.
CREATE INDEX asyncmq_jobs_list ON asyncmq_jobs (queue, state, created_at, id);

-- PromoteDue takes due delayed jobs in due order.
CREATE INDEX asyncmq_jobs_delayed ON asyncmq_jobs (run_at, id) WHERE state = 'delayed';

-- RecoverStalled takes expired leases in expiry order.
CREATE INDEX asyncmq_jobs_lease ON asyncmq_jobs (lease_expires_at, id) WHERE state = 'active';

-- Unique keys are checked per queue; most jobs have none and stay out of the index.
CREATE INDEX asyncmq_jobs_unique ON asyncmq_jobs (queue, unique_key) WHERE unique_key IS NOT NULL;

-- Retention (Clean) deletes the oldest finished jobs of a queue and state.
CREATE INDEX asyncmq_jobs_finished ON asyncmq_jobs (queue, state, finished_at, id)
	WHERE finished_at IS NOT NULL;

-- One row per dependency a child still waits for; it goes when the parent completes, or with
-- either job. A child whose parent is deleted before it completed stays blocked.
CREATE TABLE asyncmq_job_deps (
	parent text NOT NULL REFERENCES asyncmq_jobs (id) ON DELETE CASCADE,
	child  text NOT NULL REFERENCES asyncmq_jobs (id) ON DELETE CASCADE,
	PRIMARY KEY (parent, child)
);
CREATE INDEX asyncmq_job_deps_child ON asyncmq_job_deps (child);

-- A queue is known once it has a job, a setting or a repeatable. No counters live here: a row
-- updated by every transition would serialise every worker on its lock.
CREATE TABLE asyncmq_queues (
	name              text        PRIMARY KEY,
	paused            boolean     NOT NULL DEFAULT false,
	rate_limit        integer     NOT NULL DEFAULT 0,
	rate_interval     bigint      NOT NULL DEFAULT 0,
	rate_window_start timestamptz,
	rate_window_count integer     NOT NULL DEFAULT 0
);

-- Writers append events to the log without any shared lock; a reader first numbers the rows
-- that committed since the last reader (under an advisory lock), moving them to asyncmq_events
-- with the next sequence numbers. So an event ID is assigned in commit order and a reader that
-- resumes after an ID never skips a row whose transaction committed late.
CREATE TABLE asyncmq_event_log (
	id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	type   text        NOT NULL,
	queue  text        NOT NULL,
	job_id text        NOT NULL DEFAULT '',
	task   text        NOT NULL DEFAULT '',
	state  text        NOT NULL DEFAULT '',
	at     timestamptz NOT NULL,
	detail text        NOT NULL DEFAULT ''
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);

CREATE TABLE asyncmq_events (
	id     bigint      PRIMARY KEY,
	type   text        NOT NULL,
	queue  text        NOT NULL,
	job_id text        NOT NULL DEFAULT '',
	task   text        NOT NULL DEFAULT '',
	state  text        NOT NULL DEFAULT '',
	at     timestamptz NOT NULL,
	detail text        NOT NULL DEFAULT ''
) WITH (autovacuum_vacuum_scale_factor = 0.02);
CREATE INDEX asyncmq_events_queue ON asyncmq_events (queue, id);

-- Metric deltas: every transaction that counts something appends its own rows (one per queue
-- and minute) instead of updating a shared bucket, so no row is hot; Metrics sums them, and the
-- maintenance pass folds a minute's rows into one once the minute is over.
CREATE TABLE asyncmq_metrics (
	queue        text        NOT NULL,
	minute       timestamptz NOT NULL,
	completed    bigint      NOT NULL DEFAULT 0,
	failed       bigint      NOT NULL DEFAULT 0,
	retried      bigint      NOT NULL DEFAULT 0,
	started      bigint      NOT NULL DEFAULT 0,
	duration_sum bigint      NOT NULL DEFAULT 0,
	wait_sum     bigint      NOT NULL DEFAULT 0,
	-- durations[i] counts the runs of the i-th bucket of DurationBuckets (the last: longer).
	durations    bigint[]    NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX asyncmq_metrics_minute ON asyncmq_metrics (minute, queue);

CREATE TABLE asyncmq_repeatables (
	id          text        PRIMARY KEY,
	queue       text        NOT NULL,
	task        text        NOT NULL,
	payload     jsonb,
	cron        text        NOT NULL DEFAULT '',
	"interval"  bigint      NOT NULL DEFAULT 0,
	priority    integer     NOT NULL DEFAULT 0,
	max_retries integer     NOT NULL DEFAULT 0,
	paused      boolean     NOT NULL DEFAULT false,
	next_run    timestamptz,
	last_run    timestamptz,
	created_at  timestamptz NOT NULL
);
CREATE INDEX asyncmq_repeatables_queue ON asyncmq_repeatables (queue, id);
CREATE INDEX asyncmq_repeatables_due ON asyncmq_repeatables (next_run, id) WHERE NOT paused;

CREATE TABLE asyncmq_workers (
	id             text        PRIMARY KEY,
	hostname       text        NOT NULL DEFAULT '',
	pid            integer     NOT NULL DEFAULT 0,
	queues         text[]      NOT NULL DEFAULT '{}',
	concurrency    integer     NOT NULL DEFAULT 0,
	started_at     timestamptz,
	last_heartbeat timestamptz,
	active         integer     NOT NULL DEFAULT 0
);

-- Audit entries are never deleted, so their IDs only grow.
CREATE TABLE asyncmq_audit (
	id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at     timestamptz NOT NULL,
	actor  text        NOT NULL DEFAULT '',
	action text        NOT NULL DEFAULT '',
	status text        NOT NULL DEFAULT '',
	queue  text        NOT NULL DEFAULT '',
	job_id text        NOT NULL DEFAULT '',
	source text        NOT NULL DEFAULT '',
	detail text        NOT NULL DEFAULT '',
	error  text        NOT NULL DEFAULT ''
);

-- asyncmq_sequence_events numbers the committed rows of the event log, in log order, after the
-- newest numbered event, and moves them to asyncmq_events. One caller at a time (an advisory
-- lock per schema): with wait false it gives up at once when another caller holds the lock.
-- Each statement of a plpgsql function in READ COMMITTED takes a new snapshot, so the move sees
-- every row committed before the lock was taken.
CREATE FUNCTION asyncmq_sequence_events(wait boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	lock_key bigint := hashtextextended('asyncmq.events.' || current_schema(), 0);
	moved bigint;
BEGIN
	IF wait THEN
		PERFORM pg_advisory_xact_lock(lock_key);
	ELSIF NOT pg_try_advisory_xact_lock(lock_key) THEN
		RETURN 0;
	END IF;
	WITH m AS (
		DELETE FROM asyncmq_event_log WHERE id IN (SELECT id FROM asyncmq_event_log ORDER BY id LIMIT 100000)
		RETURNING *
	)
	INSERT INTO asyncmq_events (id, type, queue, job_id, task, state, at, detail)
	SELECT (SELECT coalesce(max(id), 0) FROM asyncmq_events) + row_number() OVER (ORDER BY m.id),
		m.type, m.queue, m.job_id, m.task, m.state, m.at, m.detail
	FROM m;
	GET DIAGNOSTICS moved = ROW_COUNT;
	RETURN moved;
END
$$;
