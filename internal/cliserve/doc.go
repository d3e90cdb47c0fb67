// Package cliserve assembles `asyncmq serve`: the admin dashboard behind the chosen
// authentication, the in-process workers and the demo workload, in one process with one graceful
// shutdown. cmd/asyncmq maps flags and ASYNCMQ_* variables onto Options; everything here is
// wiring of the public packages (asyncmq, admin, dashboard and the auth backends) that an
// application would do itself, as the examples/ programs show.
package cliserve
