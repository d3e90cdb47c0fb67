UPDATE asyncmq_jobs SET state = CASE WHEN run_at > now() THEN 'delayed' ELSE 'waiting' END
WHERE state = 'waiting-children';
ALTER TABLE asyncmq_jobs DROP CONSTRAINT asyncmq_jobs_state_check;
ALTER TABLE asyncmq_jobs ADD CONSTRAINT asyncmq_jobs_state_check
	CHECK (state IN ('waiting', 'active', 'delayed', 'completed', 'failed', 'cancelled'));
ALTER TABLE asyncmq_jobs DROP COLUMN on_parent_failure;
