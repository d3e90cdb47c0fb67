DROP FUNCTION IF EXISTS asyncmq_sequence_events(boolean);
DROP TABLE IF EXISTS asyncmq_audit, asyncmq_workers, asyncmq_repeatables, asyncmq_metrics,
	asyncmq_events, asyncmq_event_log, asyncmq_queues, asyncmq_job_deps, asyncmq_jobs;
