// Command chaos runs asyncmq's reliability harness (package internal/chaos) and exits 1 when a
// job was lost, completed twice or left stuck.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/asyncmq/asyncmq/internal/chaos"
)

func main() {
	chaos.MaybeWorker()
	os.Exit(run())
}

func run() int {
	var cfg chaos.Config
	flag.StringVar(&cfg.StoreURL, "store", "", "store URL (default a new SQLite file in a temporary folder)")
	flag.IntVar(&cfg.Workers, "workers", 3, "worker processes")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long to enqueue and kill")
	flag.DurationVar(&cfg.KillEvery, "kill-every", 2*time.Second, "mean time between SIGKILLs of a random worker (0: none)")
	flag.IntVar(&cfg.Rate, "rate", 200, "jobs enqueued per second")
	flag.DurationVar(&cfg.Settle, "settle", 60*time.Second, "how long the workers get to finish after the run")
	flag.DurationVar(&cfg.LockEvery, "lock-every", 10*time.Second, "SQLite: hold the database lock this often (0: never)")
	flag.DurationVar(&cfg.LockFor, "lock-for", time.Second, "SQLite: for this long")
	flag.Parse()
	if cfg.StoreURL == "" {
		dir, err := os.MkdirTemp("", "asyncmq-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer os.RemoveAll(dir)
		cfg.StoreURL = "sqlite://" + filepath.Join(dir, "chaos.db")
	}
	cfg.Log = os.Stderr
	rep, err := chaos.Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(rep)
	if rep.Failed() {
		return 1
	}
	return 0
}
