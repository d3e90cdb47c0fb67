-- Nothing to undo: version 4 is a reserved no-op here (see 0004_reserved.up.sql).
SELECT 1;
