-- Jobs blocked on parents get a state of their own, waiting-children, with a counter column,
-- and every job a policy for when a parent fails or is cancelled ('' means fail).
ALTER TABLE asyncmq_jobs ADD COLUMN on_parent_failure TEXT NOT NULL DEFAULT '';
ALTER TABLE asyncmq_queues ADD COLUMN waiting_children INTEGER NOT NULL DEFAULT 0;

-- Jobs stored before this version waited for their parents as waiting (or delayed, until
-- promoted) with pending_deps > 0: they move to the new state, and the counters with them.
UPDATE asyncmq_queues SET
	waiting = waiting - (SELECT count(*) FROM asyncmq_jobs AS j
		WHERE j.queue = asyncmq_queues.name AND j.state = 'waiting' AND j.pending_deps > 0),
	delayed = delayed - (SELECT count(*) FROM asyncmq_jobs AS j
		WHERE j.queue = asyncmq_queues.name AND j.state = 'delayed' AND j.pending_deps > 0),
	waiting_children = (SELECT count(*) FROM asyncmq_jobs AS j
		WHERE j.queue = asyncmq_queues.name AND j.state IN ('waiting', 'delayed') AND j.pending_deps > 0);
UPDATE asyncmq_jobs SET state = 'waiting-children' WHERE state IN ('waiting', 'delayed') AND pending_deps > 0;
