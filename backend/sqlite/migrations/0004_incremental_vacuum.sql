-- Files reclaim the pages that deletions free in steps (PRAGMA incremental_vacuum, run by the
-- maintenance leader through Compact). A new file gets auto_vacuum=INCREMENTAL before its first
-- table; an existing one switches only with a VACUUM, which cannot run in this migration's
-- transaction: Open runs it once right after (see convertAutoVacuum in compact.go). The pragma
-- here states the mode for the VACUUM to apply.
PRAGMA auto_vacuum = INCREMENTAL;
