ALTER TABLE asyncmq_jobs DROP COLUMN headers;
