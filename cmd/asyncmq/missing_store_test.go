package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadCommandsDoNotCreateTheStore runs the commands that only read or change what is stored
// against a SQLite path with no file: each must fail naming the path and leave no file behind,
// while enqueue creates the store as before.
func TestReadCommandsDoNotCreateTheStore(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"queue", "list"},
		{"queue", "info", "default"},
		{"queue", "pause", "default"},
		{"job", "list", "--queue", "default"},
		{"job", "inspect", "01J0000000000000000000000"},
		{"repeatable", "list"},
		{"serve", "--auth", "none", "--addr", "127.0.0.1:0", "--workers", "0"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			path := filepath.Join(f.dir, "missing.db")
			r := f.run(append([]string{"--backend", "sqlite://" + path}, args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "no database exists at "+path) {
				t.Fatalf("%v on a missing file: exit %d, stderr %q; want 1 naming %s", args, r.code, r.stderr, path)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%v created %s (stat: %v)", args, path, err)
			}
		})
	}
	t.Run("enqueue creates it", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		path := filepath.Join(f.dir, "new.db")
		f.mustRun("--backend", "sqlite://"+path, "enqueue", "t")
		if out := f.mustRun("--backend", "sqlite://"+path, "queue", "list"); !strings.Contains(out, "default") {
			t.Fatalf("queue list after enqueue into a new file:\n%s", out)
		}
	})
}

// TestWorkerExitsWhenItsFileIsDeleted runs the real binary and deletes its database file, as
// an operator resetting the store with `rm q.db*` would: the worker must log an error naming the
// path and exit non-zero, rather than work on a file nobody else can see.
func TestWorkerExitsWhenItsFileIsDeleted(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	path := filepath.Join(t.TempDir(), "q.db")
	createStore(t, path)
	cmd := exec.Command(bin, "--backend", "sqlite://"+path, "worker", "--queues", "default=2")
	cmd.Env = append(os.Environ(), "ASYNCMQ_BACKEND=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	out := lines(stderr)
	waitForLine(t, out, "worker started", 30*time.Second)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	var log strings.Builder
	for line := range out {
		log.WriteString(line + "\n")
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("worker exited with %v, want exit code 1; stderr:\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not exit after its file was deleted")
	}
	if !strings.Contains(log.String(), "ERROR") || !strings.Contains(log.String(), path) || !strings.Contains(log.String(), "was deleted") {
		t.Fatalf("the worker's log does not say, as an error naming %s, that the file was deleted:\n%s", path, log.String())
	}
}
