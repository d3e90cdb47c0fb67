package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// binary builds the asyncmq command once per test run, for tests that need a real process and
// real signals.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "asyncmq-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "asyncmq")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// lines sends every line of r to the returned channel, closed at EOF.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// waitForLine reads lines until one contains want.
func waitForLine(t *testing.T, ch <-chan string, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				t.Fatalf("output ended without %q", want)
			}
			if strings.Contains(line, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %s", want, timeout)
		}
	}
}

// TestSignalsShutDownGracefully runs the real binary and stops it the way a terminal and a
// service manager do: SIGINT for serve, SIGTERM for worker. Both must exit 0 after a graceful
// shutdown.
func TestSignalsShutDownGracefully(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	tests := []struct {
		name   string
		args   []string
		ready  string
		signal syscall.Signal
		done   string
	}{
		{name: "serve on SIGINT", args: []string{"serve", "--auth", "none", "--addr", "127.0.0.1:0", "--workers", "1"}, ready: "asyncmq dashboard listening", signal: syscall.SIGINT, done: "worker stopped"},
		{name: "worker on SIGTERM", args: []string{"worker", "--queues", "default=2"}, ready: "worker started", signal: syscall.SIGTERM, done: "worker stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "asyncmq.db")
			createStore(t, path)
			cmd := exec.Command(bin, append([]string{"--backend", "sqlite://" + path}, tt.args...)...)
			cmd.Env = append(os.Environ(), "ASYNCMQ_BACKEND=", "ASYNCMQ_AUTH=")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			out := lines(stderr)
			waitForLine(t, out, tt.ready, 30*time.Second)
			if err := cmd.Process.Signal(tt.signal); err != nil {
				t.Fatal(err)
			}
			// The graceful path logs its end before the process exits.
			waitForLine(t, out, tt.done, 30*time.Second)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit after %v: %v", tt.signal, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30s after %v", tt.signal)
			}
		})
	}
}
