-- Per-queue metrics become the sum of the per-task rows: a claim or finish then writes one metric
-- row instead of two, one statement and one WAL page fewer per commit (issue 15). What
-- asyncmq_metrics counted beyond its task rows (the minutes written before migration 0007) moves
-- to a row with the empty task name, which no job can have: per-queue reads add it, per-task
-- reads skip it.
INSERT INTO asyncmq_task_metrics (queue, task, minute,
	completed, failed, retried, duration_sum, wait_sum, started, d_5ms, d_10ms, d_25ms, d_50ms,
	d_100ms, d_250ms, d_500ms, d_1s, d_2500ms, d_5s, d_10s, d_30s, d_60s, d_inf)
SELECT m.queue, '', m.minute,
	m.completed - coalesce(t.completed, 0), m.failed - coalesce(t.failed, 0),
	m.retried - coalesce(t.retried, 0), m.duration_sum - coalesce(t.duration_sum, 0),
	m.wait_sum - coalesce(t.wait_sum, 0), m.started - coalesce(t.started, 0),
	m.d_5ms - coalesce(t.d_5ms, 0), m.d_10ms - coalesce(t.d_10ms, 0),
	m.d_25ms - coalesce(t.d_25ms, 0), m.d_50ms - coalesce(t.d_50ms, 0),
	m.d_100ms - coalesce(t.d_100ms, 0), m.d_250ms - coalesce(t.d_250ms, 0),
	m.d_500ms - coalesce(t.d_500ms, 0), m.d_1s - coalesce(t.d_1s, 0),
	m.d_2500ms - coalesce(t.d_2500ms, 0), m.d_5s - coalesce(t.d_5s, 0),
	m.d_10s - coalesce(t.d_10s, 0), m.d_30s - coalesce(t.d_30s, 0),
	m.d_60s - coalesce(t.d_60s, 0), m.d_inf - coalesce(t.d_inf, 0)
FROM asyncmq_metrics m LEFT JOIN (
	SELECT queue, minute,
		sum(completed) AS completed, sum(failed) AS failed, sum(retried) AS retried,
		sum(duration_sum) AS duration_sum, sum(wait_sum) AS wait_sum, sum(started) AS started,
		sum(d_5ms) AS d_5ms, sum(d_10ms) AS d_10ms, sum(d_25ms) AS d_25ms, sum(d_50ms) AS d_50ms,
		sum(d_100ms) AS d_100ms, sum(d_250ms) AS d_250ms, sum(d_500ms) AS d_500ms, sum(d_1s) AS d_1s,
		sum(d_2500ms) AS d_2500ms, sum(d_5s) AS d_5s, sum(d_10s) AS d_10s, sum(d_30s) AS d_30s,
		sum(d_60s) AS d_60s, sum(d_inf) AS d_inf
	FROM asyncmq_task_metrics GROUP BY queue, minute
) t ON t.queue = m.queue AND t.minute = m.minute;

DELETE FROM asyncmq_task_metrics WHERE task = '' AND
	completed = 0 AND failed = 0 AND retried = 0 AND duration_sum = 0 AND wait_sum = 0
	AND started = 0 AND d_5ms = 0 AND d_10ms = 0 AND d_25ms = 0 AND d_50ms = 0
	AND d_100ms = 0 AND d_250ms = 0 AND d_500ms = 0 AND d_1s = 0 AND d_2500ms = 0
	AND d_5s = 0 AND d_10s = 0 AND d_30s = 0 AND d_60s = 0 AND d_inf = 0;

-- The table stays, empty, for the processes of an older version still running on this file
-- during an upgrade: their writes keep succeeding, their per-task rows count, and their
-- per-queue rows, unread, go with the metrics retention.
DELETE FROM asyncmq_metrics;
