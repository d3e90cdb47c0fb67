// Package chaos is asyncmq's reliability harness: it runs several worker processes on one store,
// SIGKILLs them at random, injects store faults where it can, and then accounts for every job the
// store accepted: lost (gone from the store), completed twice (two job:completed events), or stuck
// (not completed once the workers had time to finish). Run it with
//
//	go run ./internal/chaos/cmd/chaos --duration 60s --workers 3 --kill-every 2s
//
// Any store URL works (--store); on a SQLite file it also holds the database lock for a while now
// and then, as a backup tool or a stuck process would.
package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	_ "github.com/asyncmq/asyncmq/backend/all" // every store URL
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

// WorkerEnv set to a store URL makes a process that calls MaybeWorker run as a chaos worker.
const WorkerEnv = "ASYNCMQ_CHAOS_WORKER"

const (
	queue = "chaos"
	task  = "chaos.job"
)

// Config is one harness run.
type Config struct {
	// StoreURL is the store every process opens.
	StoreURL string
	// Workers is how many worker processes run at once.
	Workers int
	// Duration is how long jobs are enqueued and workers killed.
	Duration time.Duration
	// KillEvery is the mean time between two SIGKILLs of a random worker.
	KillEvery time.Duration
	// Rate is how many jobs a second the producer enqueues.
	Rate int
	// Settle bounds the wait, after Duration, for the workers to finish every job.
	Settle time.Duration
	// LockEvery, on a SQLite store, is how often the database lock is held for LockFor; 0 never.
	LockEvery, LockFor time.Duration
	// Command is the program started as a worker, with WorkerEnv set (default this program).
	Command string
	// Log receives progress lines.
	Log io.Writer
}

// Report is the accounting of a run.
type Report struct {
	Accepted, Completed, Lost, Doubled, Stuck int
	// StallFailed counts jobs the store failed because their lease expired more often than
	// MaxStalls allows (killed while running again and again): finished, by the stall policy.
	StallFailed  int
	Kills, Locks int
	// StuckStates counts the stuck jobs by state ("error" when reading one failed).
	StuckStates map[string]int
}

// Failed reports whether any job was lost, completed twice or stuck.
func (r Report) Failed() bool { return r.Lost > 0 || r.Doubled > 0 || r.Stuck > 0 }

func (r Report) String() string {
	return fmt.Sprintf("accepted %d, completed %d, failed after repeated stalls %d, lost %d, completed twice %d, stuck %d %v (kills %d, lock holds %d)",
		r.Accepted, r.Completed, r.StallFailed, r.Lost, r.Doubled, r.Stuck, r.StuckStates, r.Kills, r.Locks)
}

// MaybeWorker runs the process as a chaos worker when WorkerEnv is set, and never returns then.
func MaybeWorker() {
	url := os.Getenv(WorkerEnv)
	if url == "" {
		return
	}
	ctx := context.Background()
	b, err := asyncmq.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		os.Exit(1)
	}
	mux := asyncmq.NewServeMux()
	mux.HandleFunc(task, func(ctx context.Context, _ *asyncmq.Job) error {
		select {
		case <-time.After(time.Duration(rand.N(20)) * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{
		Queues: map[string]int{queue: 8}, LeaseDuration: 2 * time.Second, PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		os.Exit(1)
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Run runs the harness and returns its accounting.
func Run(ctx context.Context, cfg Config) (Report, error) {
	var rep Report
	if cfg.Workers < 1 || cfg.Duration <= 0 || cfg.Rate < 1 {
		return rep, fmt.Errorf("chaos: want at least 1 worker, a positive duration and rate")
	}
	if cfg.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			return rep, fmt.Errorf("chaos: find this program: %w", err)
		}
		cfg.Command = exe
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	b, err := asyncmq.Open(ctx, cfg.StoreURL)
	if err != nil {
		return rep, fmt.Errorf("chaos: open store: %w", err)
	}
	defer b.Close()
	client := asyncmq.NewClient(b)

	procs := make([]*exec.Cmd, cfg.Workers)
	var mu sync.Mutex
	start := func(i int) error {
		cmd := exec.Command(cfg.Command)
		cmd.Env = append(os.Environ(), WorkerEnv+"="+cfg.StoreURL)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("chaos: start worker: %w", err)
		}
		go func() { _ = cmd.Wait() }()
		mu.Lock()
		procs[i] = cmd
		mu.Unlock()
		return nil
	}
	for i := range procs {
		if err := start(i); err != nil {
			return rep, err
		}
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range procs {
			_ = p.Process.Kill()
		}
	}()

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var accepted []string
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second / time.Duration(min(cfg.Rate, 1000)))
		defer t.Stop()
		per := max(1, cfg.Rate/1000)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			for range per {
				j, err := client.Enqueue(runCtx, task, nil, asyncmq.Queue(queue))
				if err == nil {
					accepted = append(accepted, j.ID)
				}
			}
		}
	})
	wg.Go(func() {
		if cfg.KillEvery <= 0 {
			return
		}
		for {
			d := cfg.KillEvery/2 + rand.N(cfg.KillEvery)
			select {
			case <-runCtx.Done():
				return
			case <-time.After(d):
			}
			i := rand.N(cfg.Workers)
			mu.Lock()
			_ = procs[i].Process.Kill()
			mu.Unlock()
			rep.Kills++
			fmt.Fprintf(cfg.Log, "killed worker %d\n", i)
			if err := start(i); err != nil {
				fmt.Fprintln(cfg.Log, err)
			}
		}
	})
	if path, ok := sqlite.PathFromURL(cfg.StoreURL); ok && cfg.LockEvery > 0 {
		wg.Go(func() { rep.Locks = holdLocks(runCtx, path, cfg, cfg.Log) })
	}
	wg.Wait()

	// Settle: the workers (restarted after the last kill) finish what is left.
	deadline := time.Now().Add(cfg.Settle)
	for {
		rep = account(ctx, b, accepted, rep)
		if rep.Stuck == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	return rep, nil
}

// holdLocks takes SQLite's write lock for cfg.LockFor every cfg.LockEvery, from a connection of
// its own, as a backup or a stuck process would.
func holdLocks(ctx context.Context, path string, cfg Config, log io.Writer) int {
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-time.After(cfg.LockEvery):
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			continue
		}
		if c, err := db.Conn(ctx); err == nil {
			if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err == nil {
				n++
				fmt.Fprintf(log, "holding the database lock for %s\n", cfg.LockFor)
				time.Sleep(cfg.LockFor)
				_, _ = c.ExecContext(context.Background(), "ROLLBACK")
			}
			c.Close()
		}
		db.Close()
	}
}

// account classifies every accepted job, and counts the job:completed events per job.
func account(ctx context.Context, b asyncmq.Store, accepted []string, rep Report) Report {
	rep.Accepted, rep.Completed, rep.StallFailed, rep.Lost, rep.Stuck, rep.Doubled = len(accepted), 0, 0, 0, 0, 0
	rep.StuckStates = map[string]int{}
	for _, id := range accepted {
		j, err := b.GetJob(ctx, id)
		switch {
		case errors.Is(err, asyncmqtype.ErrJobNotFound):
			rep.Lost++
		case err != nil:
			rep.Stuck++
			rep.StuckStates["error"]++
		case j.State == asyncmqtype.StateCompleted:
			rep.Completed++
		case j.State == asyncmqtype.StateFailed:
			rep.StallFailed++
		default:
			rep.Stuck++
			rep.StuckStates[string(j.State)]++
		}
	}
	completions := map[string]int{}
	after := ""
	for {
		evs, err := b.Events(ctx, asyncmqtype.EventsParams{After: after, Queue: queue, Limit: 5000})
		if err != nil || len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Type == asyncmqtype.EventCompleted {
				completions[e.JobID]++
			}
		}
		after = evs[len(evs)-1].Cursor
	}
	for _, n := range completions {
		if n > 1 {
			rep.Doubled++
		}
	}
	return rep
}
