// Package all links every store asyncmq ships, so asyncmq.Open understands every scheme:
//
//	import _ "github.com/asyncmq/asyncmq/backend/all"
//
// Tools that open whatever URL they are given (the asyncmq command) import it; an application
// that uses one store imports only that store's package, and links nothing of the others.
package all

import (
	// memory:// — in-process, for tests and demos.
	_ "github.com/asyncmq/asyncmq/backend/memory"
	// postgres://, postgresql:// — PostgreSQL 13 or later.
	_ "github.com/asyncmq/asyncmq/backend/postgres"
	// redis://, rediss://, redis+cluster://, redis+sentinel:// — Redis 7 or later.
	_ "github.com/asyncmq/asyncmq/backend/redis"
	// sqlite:// — the embedded default.
	_ "github.com/asyncmq/asyncmq/backend/sqlite"
)
