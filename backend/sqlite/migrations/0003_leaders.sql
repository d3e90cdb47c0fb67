-- Leases on named roles (backend.Elector): one worker of a store runs the maintenance services.
-- expires is Unix nanoseconds; a lease whose expires is before the caller's now is free.
CREATE TABLE asyncmq_leaders (
	name    TEXT PRIMARY KEY,
	holder  TEXT NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
