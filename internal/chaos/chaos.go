// Package chaos is asyncmq's reliability harness: it runs several worker processes on one store,
// SIGKILLs them at random, injects store faults, restarts every worker that died or stopped, and
// then accounts for every job the store accepted: lost (gone from the store), completed twice
// (two job:completed events), or stuck (not completed once the workers had time to finish). Run
// it with
//
//	go run ./internal/chaos/cmd/chaos --duration 60s --workers 3 --kill-every 2s \
//		--lock-every 10s --disk-full-every 15s --disk-full-for 2s --replace-every 20s
//
// The store faults need a SQLite store, and the disk-full fault the harness's own SQLite file
// (no --store):
//
//   - held lock: a connection of the harness holds the database's write lock for --lock-for;
//   - disk full: the file lives on a tmpfs of --disk-size, mounted by the harness (root only),
//     which a filler file fills for --disk-full-for;
//   - replaced file: the database (with its WAL) is moved aside and a fresh database put at its
//     path; every worker must notice and stop (asyncmqtype.ErrStoreUnusable), and once all have,
//     the original is moved back and the workers restarted, so no accepted job is lost by the
//     fault itself. A worker still running on the moved file counts as "carried on", a failure.
//
// A fault that cannot run is reported as skipped, with the reason, rather than left out.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	_ "github.com/asyncmq/asyncmq/backend/all" // every store URL
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

const (
	queue = "chaos"
	task  = "chaos.job"
)

// Fault names, as printed in the report.
const (
	FaultKill     = "SIGKILL"
	FaultLock     = "held lock"
	FaultDiskFull = "disk full"
	FaultReplace  = "replaced file"
)

// Config is one harness run.
type Config struct {
	// StoreURL is the store every process opens. Empty (the default) makes a SQLite file in a
	// new folder under Dir, which the store faults need.
	StoreURL string
	// Dir is where the harness makes its folder when StoreURL is empty (default os.TempDir()).
	Dir string
	// Workers is how many worker processes run at once.
	Workers int
	// Duration is how long jobs are enqueued and faults injected.
	Duration time.Duration
	// KillEvery is the mean time between two SIGKILLs of a random worker; 0 never.
	KillEvery time.Duration
	// Rate is how many jobs a second the producer enqueues.
	Rate int
	// Settle bounds the wait, after Duration, for the workers to finish every job.
	Settle time.Duration
	// LockEvery, on a SQLite store, is the mean time between two holds of the database lock for
	// LockFor; 0 never.
	LockEvery, LockFor time.Duration
	// DiskFullEvery is the mean time between two fillings of the database's file system, each
	// lasting DiskFullFor; 0 never. It needs root (to mount a tmpfs) and StoreURL empty.
	DiskFullEvery, DiskFullFor time.Duration
	// DiskSize is the size of that tmpfs in bytes (default 256 MiB).
	DiskSize int64
	// ReplaceEvery is the mean time between two replacements of the SQLite file; 0 never.
	ReplaceEvery time.Duration
	// StopWait bounds the wait for every worker to stop after the file is replaced (default
	// 30s); a worker still running then has carried on.
	StopWait time.Duration
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
	StallFailed int
	// StuckStates counts the stuck jobs by state ("error" when reading one failed).
	StuckStates map[string]int
	// Faults counts the faults injected, by name (FaultKill, ...).
	Faults map[string]int
	// Skipped gives, for each fault asked for that could not run, the reason.
	Skipped map[string]string
	// Stopped counts the workers that stopped after their file was replaced; CarriedOn those
	// still running StopWait later (a failure).
	Stopped, CarriedOn int
	// Unusable counts workers that stopped with asyncmqtype.ErrStoreUnusable when no file had
	// been replaced (a failure: the store gave up on a healthy file).
	Unusable int
	// Exits counts other worker exits, such as an Open that failed while the disk was full;
	// the supervisor restarts them.
	Exits int
}

// Failed reports whether any job was lost, completed twice or stuck, or a worker carried on
// after its file was replaced or gave up on a healthy one.
func (r Report) Failed() bool {
	return r.Lost > 0 || r.Doubled > 0 || r.Stuck > 0 || r.CarriedOn > 0 || r.Unusable > 0
}

// String is the summary the command prints: faults, skipped faults, the replaced-file
// outcome, and the job accounting.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "faults: %s %d, %s %d, %s %d, %s %d\n", FaultKill, r.Faults[FaultKill], FaultLock, r.Faults[FaultLock],
		FaultDiskFull, r.Faults[FaultDiskFull], FaultReplace, r.Faults[FaultReplace])
	names := make([]string, 0, len(r.Skipped))
	for n := range r.Skipped {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s: skipped (%s)\n", n, r.Skipped[n])
	}
	fmt.Fprintf(&b, "replaced file: workers stopped %d, carried on %d\n", r.Stopped, r.CarriedOn)
	fmt.Fprintf(&b, "workers: other exits %d (restarted), store unusable with no file replaced %d\n", r.Exits, r.Unusable)
	fmt.Fprintf(&b, "jobs: accepted %d, completed %d, failed after repeated stalls %d, lost %d, completed twice %d, stuck %d",
		r.Accepted, r.Completed, r.StallFailed, r.Lost, r.Doubled, r.Stuck)
	if len(r.StuckStates) > 0 {
		fmt.Fprintf(&b, " %v", r.StuckStates)
	}
	return b.String()
}

// harness is one run's shared state.
type harness struct {
	cfg  Config
	url  string
	path string // the SQLite file, "" for other stores
	dir  string // the harness's own folder, "" with a given StoreURL

	// storeMu guards b, which the replaced-file fault swaps for a fresh handle.
	storeMu sync.RWMutex
	b       asyncmq.Store

	// pause is held for writing by the replaced-file fault: no worker is started or killed
	// meanwhile.
	pause sync.RWMutex

	mu       sync.Mutex
	procs    []*proc
	rep      Report
	stopping bool
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, format+"\n", args...)
}

func (h *harness) count(f func(r *Report)) {
	h.mu.Lock()
	f(&h.rep)
	h.mu.Unlock()
}

func (h *harness) skip(fault, reason string) {
	h.count(func(r *Report) { r.Skipped[fault] = reason })
	h.logf("%s: skipped (%s)", fault, reason)
}

// store returns the harness's current store handle; release must be called when done with it.
func (h *harness) store() (b asyncmq.Store, release func()) {
	h.storeMu.RLock()
	return h.b, h.storeMu.RUnlock
}

// Run runs the harness and returns its accounting.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Workers < 1 || cfg.Duration <= 0 || cfg.Rate < 1 {
		return Report{}, fmt.Errorf("chaos: want at least 1 worker, a positive duration and rate")
	}
	if cfg.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			return Report{}, fmt.Errorf("chaos: find this program: %w", err)
		}
		cfg.Command = exe
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.DiskSize <= 0 {
		cfg.DiskSize = 256 << 20
	}
	if cfg.StopWait <= 0 {
		cfg.StopWait = 30 * time.Second
	}
	h := &harness{cfg: cfg, url: cfg.StoreURL, procs: make([]*proc, cfg.Workers)}
	h.rep.Faults = map[string]int{}
	h.rep.Skipped = map[string]string{}

	cleanup, err := h.prepare(ctx)
	if err != nil {
		return h.rep, err
	}
	defer cleanup()
	b, err := asyncmq.Open(ctx, h.url)
	if err != nil {
		return h.rep, fmt.Errorf("chaos: open store: %w", err)
	}
	h.b = b
	defer func() {
		s, release := h.store()
		_ = s.Close()
		release()
	}()

	var slots sync.WaitGroup
	for i := range cfg.Workers {
		slots.Go(func() { h.supervise(i) })
	}
	// Every worker process ends before the deferred store close and unmount.
	defer func() {
		h.stopWorkers()
		slots.Wait()
	}()

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var accepted []string
	var wg sync.WaitGroup
	wg.Go(func() { accepted = h.produce(runCtx) })
	wg.Go(func() { h.killLoop(runCtx) })
	wg.Go(func() { h.faultLoop(runCtx) })
	wg.Wait()

	// Settle: the workers (restarted after the last fault) finish what is left.
	deadline := time.Now().Add(cfg.Settle)
	var rep Report
	for {
		s, release := h.store()
		rep = account(ctx, s, accepted)
		release()
		if rep.Stuck == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	h.stopWorkers()
	slots.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rep.Accepted, h.rep.Completed, h.rep.StallFailed = rep.Accepted, rep.Completed, rep.StallFailed
	h.rep.Lost, h.rep.Doubled, h.rep.Stuck, h.rep.StuckStates = rep.Lost, rep.Doubled, rep.Stuck, rep.StuckStates
	return h.rep, nil
}

// prepare makes the harness's SQLite file when no store was given (on a tmpfs when the
// disk-full fault is asked for and a tmpfs can be mounted), and records the faults that cannot
// run. The returned function unmounts and removes what prepare made.
func (h *harness) prepare(ctx context.Context) (func(), error) {
	cfg := h.cfg
	cleanup := func() {}
	if h.url == "" {
		dir, err := os.MkdirTemp(cfg.Dir, "asyncmq-chaos-")
		if err != nil {
			return cleanup, fmt.Errorf("chaos: make a folder for the database: %w", err)
		}
		h.dir = dir
		mounted := false
		if cfg.DiskFullEvery > 0 {
			if err := mountTmpfs(dir, cfg.DiskSize); err != nil {
				h.skip(FaultDiskFull, err.Error())
			} else {
				mounted = true
				h.logf("database on a %d MiB tmpfs at %s", cfg.DiskSize>>20, dir)
			}
		}
		cleanup = func() {
			if mounted {
				if err := unmount(dir); err != nil {
					h.logf("unmount %s: %v", dir, err)
					return
				}
			}
			_ = os.RemoveAll(dir)
		}
		if !mounted {
			h.cfg.DiskFullEvery = 0
		}
		h.url = "sqlite://" + filepath.Join(dir, "chaos.db")
	} else if cfg.DiskFullEvery > 0 {
		h.skip(FaultDiskFull, "it needs the harness's own SQLite file on a tmpfs; drop --store")
		h.cfg.DiskFullEvery = 0
	}
	path, ok := sqlite.PathFromURL(h.url)
	if ok {
		h.path = path
	} else {
		for _, f := range []struct {
			name  string
			every *time.Duration
		}{{FaultLock, &h.cfg.LockEvery}, {FaultReplace, &h.cfg.ReplaceEvery}} {
			if *f.every > 0 {
				h.skip(f.name, "the store is not a SQLite file")
				*f.every = 0
			}
		}
	}
	if h.cfg.ReplaceEvery > 0 {
		if err := h.makeDecoy(ctx); err != nil {
			cleanup()
			return func() {}, err
		}
		inner := cleanup
		cleanup = func() {
			for _, suf := range walFiles {
				_ = os.Remove(h.decoyTemplate() + suf)
			}
			_ = os.RemoveAll(h.asidePath())
			inner()
		}
	}
	return cleanup, nil
}

// produce enqueues cfg.Rate jobs a second until ctx ends and returns the IDs of the jobs the
// store accepted (Enqueue returned nil).
func (h *harness) produce(ctx context.Context) []string {
	var accepted []string
	t := time.NewTicker(time.Second / time.Duration(min(h.cfg.Rate, 1000)))
	defer t.Stop()
	per := max(1, h.cfg.Rate/1000)
	for {
		select {
		case <-ctx.Done():
			return accepted
		case <-t.C:
		}
		for range per {
			b, release := h.store()
			j, err := asyncmq.NewClient(b).Enqueue(ctx, task, nil, asyncmq.Queue(queue))
			release()
			if err == nil {
				accepted = append(accepted, j.ID)
			}
		}
	}
}

// jitter returns a duration spread evenly over [d/2, 3d/2).
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d) }

// account classifies every accepted job, and counts the job:completed events per job.
func account(ctx context.Context, b asyncmq.Store, accepted []string) Report {
	rep := Report{Accepted: len(accepted), StuckStates: map[string]int{}}
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
