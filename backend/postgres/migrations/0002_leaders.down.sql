DROP TABLE IF EXISTS asyncmq_leaders;
