-- A transition of many jobs (a claim, a batch of outcomes, an enqueue) records its events as one
-- row of the log instead of one row per job: the per-event fields go in parallel arrays, and a
-- NULL array means every event of the row has the row's own value of that field. The reader
-- expands a row into its events, in array order, when it numbers them. So a batch of 100 jobs
-- costs one log row and one index entry instead of 100 of each, and the log rows written by one
-- statement stay together in the commit order the numbering relies on.
ALTER TABLE asyncmq_event_log
	ADD COLUMN types   text[],
	ADD COLUMN queues  text[],
	ADD COLUMN job_ids text[],
	ADD COLUMN tasks   text[],
	ADD COLUMN states  text[],
	ADD COLUMN details text[];

-- asyncmq_sequence_events numbers the committed rows of the event log as before, one number per
-- event: a row without arrays is one event, a row with them one per element of job_ids.
CREATE OR REPLACE FUNCTION asyncmq_sequence_events(wait boolean) RETURNS bigint LANGUAGE plpgsql AS $$
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
	), e AS (
		SELECT m.id, coalesce(x.ord, 0) AS ord, coalesce(x.type, m.type) AS type, coalesce(x.queue, m.queue) AS queue,
			coalesce(x.job_id, m.job_id) AS job_id, coalesce(x.task, m.task) AS task,
			coalesce(x.state, m.state) AS state, m.at, coalesce(x.detail, m.detail) AS detail
		FROM m LEFT JOIN LATERAL unnest(m.types, m.queues, m.job_ids, m.tasks, m.states, m.details)
			WITH ORDINALITY AS x(type, queue, job_id, task, state, detail, ord) ON true
	)
	INSERT INTO asyncmq_events (id, type, queue, job_id, task, state, at, detail)
	SELECT (SELECT coalesce(max(id), 0) FROM asyncmq_events) + row_number() OVER (ORDER BY e.id, e.ord),
		e.type, e.queue, e.job_id, e.task, e.state, e.at, e.detail
	FROM e;
	GET DIAGNOSTICS moved = ROW_COUNT;
	RETURN moved;
END
$$;

-- The lease index holds the jobs with a lease rather than the active ones (the same jobs: every
-- transition out of active clears the lease). With state = 'active' as its predicate, the planner
-- took it for the outcome statements, which find active jobs by ID: when the statistics were
-- taken with no job active, it estimated one row and scanned every active job for each outcome
-- in the batch. RecoverStalled's lease_expires_at < $1 still implies the new predicate.
DROP INDEX asyncmq_jobs_lease;
CREATE INDEX asyncmq_jobs_lease ON asyncmq_jobs (lease_expires_at, id) WHERE lease_expires_at IS NOT NULL;
