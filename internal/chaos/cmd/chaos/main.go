// Command chaos runs asyncmq's reliability harness (package internal/chaos), prints what it
// injected and its accounting of every accepted job, and exits 1 when a job was lost, completed
// twice or left stuck, or a worker carried on after its database file was replaced.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/asyncmq/asyncmq/internal/chaos"
)

func main() {
	chaos.MaybeWorker()
	os.Exit(run())
}

func run() int {
	var cfg chaos.Config
	var diskMiB int64
	flag.StringVar(&cfg.StoreURL, "store", "", "store URL (default a new SQLite file in a temporary folder, which the store faults need)")
	flag.IntVar(&cfg.Workers, "workers", 3, "worker processes")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long to enqueue and inject faults")
	flag.DurationVar(&cfg.KillEvery, "kill-every", 2*time.Second, "mean time between SIGKILLs of a random worker (0: none)")
	flag.IntVar(&cfg.Rate, "rate", 200, "jobs enqueued per second")
	flag.DurationVar(&cfg.Settle, "settle", 60*time.Second, "how long the workers get to finish after the run")
	flag.DurationVar(&cfg.LockEvery, "lock-every", 10*time.Second, "SQLite: mean time between holds of the database lock (0: never)")
	flag.DurationVar(&cfg.LockFor, "lock-for", time.Second, "SQLite: how long each hold lasts")
	flag.DurationVar(&cfg.DiskFullEvery, "disk-full-every", 15*time.Second, "SQLite, root: mean time between fillings of the database's tmpfs (0: never)")
	flag.DurationVar(&cfg.DiskFullFor, "disk-full-for", 2*time.Second, "how long the tmpfs stays full")
	flag.Int64Var(&diskMiB, "disk-size", 256, "size of the tmpfs in MiB")
	flag.DurationVar(&cfg.ReplaceEvery, "replace-every", 20*time.Second, "SQLite: mean time between replacements of the database file (0: never)")
	flag.DurationVar(&cfg.StopWait, "stop-wait", 30*time.Second, "how long workers get to stop after their file is replaced")
	flag.Parse()
	cfg.DiskSize = diskMiB << 20
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
