// Package demo is the demo workload of `asyncmq serve --demo` and `asyncmq worker`: a handful of
// tasks that behave like a real application's (e-mails, reports, payments, webhooks, images) and a
// producer that keeps a trickle of their jobs flowing, some failing, some retried, some delayed,
// plus one repeatable, so a new user sees a living dashboard.
package demo
