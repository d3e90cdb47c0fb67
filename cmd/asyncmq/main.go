// Command asyncmq runs asyncmq workers and the admin dashboard, and administers queues and jobs
// from the shell.
//
//	asyncmq serve --demo              # dashboard + workers + demo jobs on sqlite://asyncmq.db
//	asyncmq enqueue email.send '{"to":"a@example.com"}' --queue default
//	asyncmq queue list
//	asyncmq job list --queue default --state failed
//
// Every command reads the store from --backend or ASYNCMQ_BACKEND (default sqlite://asyncmq.db).
// Exit codes: 0 success, 1 the command failed, 2 a flag, argument or variable is malformed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newApp(os.Stdin, os.Stdout, os.Stderr, os.LookupEnv), os.Args[1:])
	stop()
	os.Exit(code)
}
