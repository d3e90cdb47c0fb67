package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/asyncmq/asyncmq"
)

// faultLoop injects the store faults, one at a time, each every cfg.XEvery on average, until
// ctx ends. Running them one at a time keeps each one's effect (and its undoing) simple: the
// lock holder never opens the path while the file is moved aside, and a full disk never stops
// the file being moved back.
func (h *harness) faultLoop(ctx context.Context) {
	type fault struct {
		every time.Duration
		next  time.Time
		run   func(context.Context) error
	}
	var faults []*fault
	for _, f := range []fault{
		{every: h.cfg.LockEvery, run: h.holdLock},
		{every: h.cfg.DiskFullEvery, run: h.fillDisk},
		{every: h.cfg.ReplaceEvery, run: h.replaceFile},
	} {
		if f.every > 0 {
			f.next = time.Now().Add(jitter(f.every))
			faults = append(faults, &f)
		}
	}
	for len(faults) > 0 {
		first := faults[0]
		for _, f := range faults[1:] {
			if f.next.Before(first.next) {
				first = f
			}
		}
		t := time.NewTimer(time.Until(first.next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Both cases may be ready at once (a fault overran the end of the run), and select then
		// picks either: never start a fault after the run ended.
		if ctx.Err() != nil {
			return
		}
		if err := first.run(ctx); err != nil {
			h.logf("%v", err)
		}
		first.next = time.Now().Add(jitter(first.every))
	}
}

// holdLock takes SQLite's write lock for cfg.LockFor from a connection of its own, as a backup
// or a stuck process would.
func (h *harness) holdLock(ctx context.Context) error {
	db, err := sql.Open("sqlite", "file:"+h.path+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("hold the database lock: %w", err)
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("hold the database lock: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("hold the database lock: %w", err)
	}
	h.count(func(r *Report) { r.Faults[FaultLock]++ })
	h.logf("holding the database lock for %s", h.cfg.LockFor)
	sleep(ctx, h.cfg.LockFor)
	_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	return nil
}

// fillDisk fills the tmpfs holding the database with a filler file, keeps it full for
// cfg.DiskFullFor, and removes the filler. Workers and the producer must carry on by
// themselves once there is room again.
func (h *harness) fillDisk(ctx context.Context) error {
	filler := filepath.Join(h.dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		return fmt.Errorf("fill the disk: %w", err)
	}
	defer func() {
		f.Close()
		if err := os.Remove(filler); err != nil {
			h.logf("remove the filler file: %v", err)
		}
	}()
	buf := make([]byte, 1<<20)
	// Big writes first, then ever smaller ones, down to the last free page.
	for size := len(buf); size >= 512; size /= 8 {
		for {
			if _, err := f.Write(buf[:size]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					return fmt.Errorf("fill the disk: %w", err)
				}
				break
			}
		}
	}
	h.count(func(r *Report) { r.Faults[FaultDiskFull]++ })
	h.logf("disk full for %s", h.cfg.DiskFullFor)
	sleep(ctx, h.cfg.DiskFullFor)
	return nil
}

// decoyTemplate is a fresh, empty asyncmq database beside the real one; asidePath the folder the
// real one is moved to while its decoy (a copy of the template) stands at its path. Both are on
// the file system of the database, so every move is a rename.
func (h *harness) decoyTemplate() string { return h.path + ".chaos-decoy" }
func (h *harness) asidePath() string     { return h.path + ".chaos-aside" }

// walFiles are the suffixes of a SQLite database's files in WAL mode; the main file first.
var walFiles = []string{"", "-wal", "-shm"}

// makeDecoy creates the decoy template.
func (h *harness) makeDecoy(ctx context.Context) error {
	t := h.decoyTemplate()
	for _, suf := range walFiles {
		_ = os.Remove(t + suf)
	}
	b, err := asyncmq.Open(ctx, "sqlite://"+t)
	if err != nil {
		return fmt.Errorf("chaos: make the decoy database: %w", err)
	}
	if err := b.Close(); err != nil {
		return fmt.Errorf("chaos: make the decoy database: %w", err)
	}
	return os.MkdirAll(h.asidePath(), 0o700)
}

// replaceFile moves the database with its WAL aside and puts a fresh database at its path, as
// a restore from a backup would while workers run. Every worker running then must notice and
// stop; once all have (or StopWait passed, and the ones still running were counted as carrying
// on and killed), the original is moved back and the harness's own handle reopened, and then
// the supervisors restart the workers. Jobs written to the original while the decoy stood are
// kept: they went to the file that comes back.
//
// The main file moves first: from then on no new connection can open the original's WAL
// without its database (every connection opens the path with mode=rw, which fails on a
// missing file), which would make two databases share one WAL.
func (h *harness) replaceFile(ctx context.Context) error {
	h.pause.Lock()
	defer h.pause.Unlock()
	h.mu.Lock()
	var running []*proc
	for _, p := range h.procs {
		if p != nil && !isDone(p.exited) {
			p.replaced.Store(true)
			running = append(running, p)
		}
	}
	h.mu.Unlock()

	decoy := h.path + ".chaos-decoy-new"
	if err := copyFile(h.decoyTemplate(), decoy); err != nil {
		return fmt.Errorf("replace the database file: %w", err)
	}
	var moved []string
	restore := func() error {
		for _, suf := range walFiles {
			if err := os.Remove(h.path + suf); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the decoy database: %w", err)
			}
		}
		for i := len(moved) - 1; i >= 0; i-- {
			if err := os.Rename(filepath.Join(h.asidePath(), "db"+moved[i]), h.path+moved[i]); err != nil {
				return fmt.Errorf("move the database back: %w", err)
			}
		}
		return nil
	}
	for _, suf := range walFiles {
		err := os.Rename(h.path+suf, filepath.Join(h.asidePath(), "db"+suf))
		if errors.Is(err, fs.ErrNotExist) && suf != "" {
			continue
		}
		if err != nil {
			_ = os.Remove(decoy)
			if rerr := restore(); rerr != nil {
				return fmt.Errorf("move the database aside: %w (and %v)", err, rerr)
			}
			return fmt.Errorf("move the database aside: %w", err)
		}
		moved = append(moved, suf)
	}
	if err := os.Rename(decoy, h.path); err != nil {
		if rerr := restore(); rerr != nil {
			return fmt.Errorf("put the decoy database in place: %w (and %v)", err, rerr)
		}
		return fmt.Errorf("put the decoy database in place: %w", err)
	}
	h.count(func(r *Report) { r.Faults[FaultReplace]++ })
	h.logf("replaced the database file; waiting for %d workers to stop", len(running))

	deadline := time.NewTimer(h.cfg.StopWait)
	defer deadline.Stop()
	stopped, carried := 0, 0
	for _, p := range running {
		select {
		case <-p.exited:
			stopped++
		case <-deadline.C:
			deadline.Reset(0) // the rest get no more time
			carried++
			h.logf("worker pid %d still running %s after its file was replaced: carried on", p.cmd.Process.Pid, h.cfg.StopWait)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	h.count(func(r *Report) { r.Stopped += stopped; r.CarriedOn += carried })

	if err := restore(); err != nil {
		return err
	}
	// The harness's handle may have stopped on the decoy too: open a fresh one on the original.
	h.storeMu.Lock()
	defer h.storeMu.Unlock()
	_ = h.b.Close()
	var err error
	for range 30 {
		var b asyncmq.Store
		if b, err = asyncmq.Open(context.WithoutCancel(ctx), h.url); err == nil {
			h.b = b
			h.logf("moved the original database back: %d workers stopped, %d carried on", stopped, carried)
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("reopen the database after moving it back: %w", err)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
