// Package users stores the people allowed into the asyncmq dashboard: a Store interface, a SQL
// implementation on database/sql for SQLite (modernc.org/sqlite, driver "sqlite") and PostgreSQL
// (pgx's stdlib driver, "pgx"), password hashing helpers, and an scs session store on the same
// database.
//
// The SQL store keeps its data in tables prefixed asyncmq_ (asyncmq_users, asyncmq_user_roles,
// asyncmq_admin_sessions) and records its own schema version in asyncmq_users_migrations, so it can
// share a database file with the queue. An application with its own users table points the store
// at it with a Mapping instead; the store then creates no tables for users.
//
// The dbauth and passwordauth backends read users through a Store; the asyncmq CLI manages them.
package users
