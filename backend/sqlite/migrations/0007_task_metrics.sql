-- Per-task metrics: the counters of asyncmq_metrics, per queue, task and minute. Both tables are
-- written by the same flush, so a per-queue read stays one row per minute whatever the number
-- of task names, and only a per-task read (the queue page) pays for them. Pruned with
-- asyncmq_metrics (MetricsRetention). Minutes written before this migration have no task rows.
CREATE TABLE asyncmq_task_metrics (
	queue        TEXT    NOT NULL,
	task         TEXT    NOT NULL,
	minute       INTEGER NOT NULL,
	completed    INTEGER NOT NULL DEFAULT 0,
	failed       INTEGER NOT NULL DEFAULT 0,
	retried      INTEGER NOT NULL DEFAULT 0,
	duration_sum INTEGER NOT NULL DEFAULT 0,
	wait_sum     INTEGER NOT NULL DEFAULT 0,
	started      INTEGER NOT NULL DEFAULT 0,
	d_5ms        INTEGER NOT NULL DEFAULT 0,
	d_10ms       INTEGER NOT NULL DEFAULT 0,
	d_25ms       INTEGER NOT NULL DEFAULT 0,
	d_50ms       INTEGER NOT NULL DEFAULT 0,
	d_100ms      INTEGER NOT NULL DEFAULT 0,
	d_250ms      INTEGER NOT NULL DEFAULT 0,
	d_500ms      INTEGER NOT NULL DEFAULT 0,
	d_1s         INTEGER NOT NULL DEFAULT 0,
	d_2500ms     INTEGER NOT NULL DEFAULT 0,
	d_5s         INTEGER NOT NULL DEFAULT 0,
	d_10s        INTEGER NOT NULL DEFAULT 0,
	d_30s        INTEGER NOT NULL DEFAULT 0,
	d_60s        INTEGER NOT NULL DEFAULT 0,
	d_inf        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (queue, minute, task)
) WITHOUT ROWID;

CREATE INDEX asyncmq_task_metrics_minute ON asyncmq_task_metrics (minute);
