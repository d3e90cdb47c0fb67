-- Per-task metrics: the counters of asyncmq_metrics, per queue, task and minute, appended by
-- the same statements (one row per transaction, queue and task) and folded and pruned by the
-- same maintenance. Per-queue rows stay as they are, so a per-queue read does not grow with the
-- number of task names; only a per-task read (the queue page) reads these. Minutes written
-- before this migration have no task rows.
CREATE TABLE asyncmq_task_metrics (
	queue        text        NOT NULL,
	task         text        NOT NULL,
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
CREATE INDEX asyncmq_task_metrics_minute ON asyncmq_task_metrics (minute, queue, task);
