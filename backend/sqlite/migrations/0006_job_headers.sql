-- Jobs carry string headers (a trace context, for one) as a JSON object; NULL when they have none.
ALTER TABLE asyncmq_jobs ADD COLUMN headers TEXT;
