-- A histogram of handler run times per metrics bucket, beside duration_sum: one column per
-- bucket of backend.DurationBuckets (the bound in the name, inclusive), and d_inf for longer
-- runs. Counts are per bucket, not cumulative. Buckets written before this migration count
-- nothing here.
ALTER TABLE asyncmq_metrics ADD COLUMN d_5ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_10ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_25ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_50ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_100ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_250ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_500ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_1s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_2500ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_5s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_10s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_30s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_60s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asyncmq_metrics ADD COLUMN d_inf INTEGER NOT NULL DEFAULT 0;
