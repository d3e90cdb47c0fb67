DROP INDEX asyncmq_jobs_lease;
CREATE INDEX asyncmq_jobs_lease ON asyncmq_jobs (lease_expires_at, id) WHERE state = 'active';
-- Batch rows are numbered first, so that no event is lost with the array columns.
SELECT asyncmq_sequence_events(true);
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
	)
	INSERT INTO asyncmq_events (id, type, queue, job_id, task, state, at, detail)
	SELECT (SELECT coalesce(max(id), 0) FROM asyncmq_events) + row_number() OVER (ORDER BY m.id),
		m.type, m.queue, m.job_id, m.task, m.state, m.at, m.detail
	FROM m;
	GET DIAGNOSTICS moved = ROW_COUNT;
	RETURN moved;
END
$$;
ALTER TABLE asyncmq_event_log DROP COLUMN types, DROP COLUMN queues, DROP COLUMN job_ids, DROP COLUMN tasks,
	DROP COLUMN states, DROP COLUMN details;
