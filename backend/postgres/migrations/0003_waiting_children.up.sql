-- Jobs blocked on parents get a state of their own, waiting-children, and every job a policy for
-- when a parent fails or is cancelled ('' means fail).
ALTER TABLE asyncmq_jobs ADD COLUMN on_parent_failure text NOT NULL DEFAULT '';
ALTER TABLE asyncmq_jobs DROP CONSTRAINT asyncmq_jobs_state_check;
ALTER TABLE asyncmq_jobs ADD CONSTRAINT asyncmq_jobs_state_check
	CHECK (state IN ('waiting', 'waiting-children', 'active', 'delayed', 'completed', 'failed', 'cancelled'));

-- Jobs stored before this version waited for their parents as waiting (or delayed, until
-- promoted) with pending_deps > 0: they move to the new state.
UPDATE asyncmq_jobs SET state = 'waiting-children' WHERE state IN ('waiting', 'delayed') AND pending_deps > 0;
