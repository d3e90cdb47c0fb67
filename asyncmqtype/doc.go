// Package asyncmqtype holds the types asyncmq shows its users: stored jobs (JobInfo) and their
// states, queues, workers, repeatable schedules, lifecycle events, metric buckets, audit entries,
// the filters of job listings, and the typed errors every store returns (test them with
// errors.Is). It imports nothing of asyncmq, so the root package, the stores and the admin
// dashboard can all share it; applications never need the store-facing package backend.
package asyncmqtype
