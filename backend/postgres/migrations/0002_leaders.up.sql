-- Leases on named roles (backend.Elector): one row per role, taken when free or expired.
CREATE TABLE asyncmq_leaders (
	name    text        PRIMARY KEY,
	holder  text        NOT NULL,
	expires timestamptz NOT NULL
);
