DROP TABLE IF EXISTS asyncmq_task_metrics;
