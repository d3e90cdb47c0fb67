package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/postgres"
)

// privateServer is a PostgreSQL instance of the test's own, on a free port, so the test may
// restart it without disturbing anyone else's tests.
type privateServer struct {
	t       *testing.T
	bin     string
	dir     string
	port    int
	asUser  []string // runuser prefix when running as root, which initdb refuses
	started bool
}

// startPrivateServer initialises and starts a server; initdbArgs replace the default "-A trust"
// (every connection trusted).
func startPrivateServer(t *testing.T, initdbArgs ...string) *privateServer {
	t.Helper()
	testURL(t) // the PostgreSQL tests are opted into with ASYNCMQ_TEST_POSTGRES
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server binaries (initdb) on this machine")
	}
	s := &privateServer{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "asyncmq-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user to run the server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if len(initdbArgs) == 0 {
		initdbArgs = []string{"-A", "trust"}
	}
	s.run("initdb", append([]string{"-D", filepath.Join(dir, "data"), "-U", "postgres", "--no-sync"}, initdbArgs...)...)
	s.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, dir), "start")
	s.started = true
	t.Cleanup(func() { s.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop") })
	return s
}

func (s *privateServer) run(name string, args ...string) {
	s.t.Helper()
	cmd := append(append([]string{}, s.asUser...), append([]string{filepath.Join(s.bin, name)}, args...)...)
	// Output goes to a file, not a pipe: the server pg_ctl starts inherits it and keeps it open,
	// so reading a pipe to its end would wait for the server to stop.
	out, err := os.CreateTemp("", "asyncmq-pg-out-*")
	if err != nil {
		s.t.Fatal(err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Stdout, c.Stderr = out, out
	if err := c.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		s.t.Fatalf("%s: %v\n%s", name, err, msg)
	}
}

func (s *privateServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// socketURL reaches the server through its Unix socket, which initdb's --auth-local governs.
func (s *privateServer) socketURL() string {
	return fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d", s.dir, s.port)
}

// restart stops the server the fast way (connections are cut) and starts it again.
func (s *privateServer) restart() {
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "restart", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, s.dir))
}

// TestServerRestart restarts PostgreSQL while a worker runs and a producer enqueues: the worker
// and the producer reconnect on their own, and every job whose enqueue succeeded completes.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := startPrivateServer(t)
	ctx := t.Context()
	// The server trusts every connection, so the password is never checked: it is there to show
	// that the listener's reconnection warnings do not log it.
	var logs bytes.Buffer
	b, err := postgres.Open(ctx, withPassword(t, srv.url(), "postgres"), postgres.AutoMigrate(),
		postgres.Logger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, stop := b.Subscribe("restart"); stop != nil {
		defer stop()
	}

	var mu sync.Mutex
	runs := map[string]int{}
	mux := asyncmq.NewServeMux()
	mux.HandleFunc("restart.task", func(ctx context.Context, job *asyncmq.Job) error {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		runs[job.ID]++
		mu.Unlock()
		return nil
	})
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{
		Queues:          map[string]int{"restart": 8},
		LeaseDuration:   2 * time.Second,
		StalledInterval: 200 * time.Millisecond,
		PollInterval:    50 * time.Millisecond,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	client := asyncmq.NewClient(b)
	var accepted []string
	produce := func(n int) {
		for range n {
			j, err := client.Enqueue(ctx, "restart.task", nil, asyncmq.Queue("restart"))
			if err == nil {
				accepted = append(accepted, j.ID)
			}
			time.Sleep(time.Millisecond)
		}
	}
	produce(100)
	srv.restart()
	produce(100) // the first of these may fail while the pool reconnects; the rest must not
	t.Logf("%d of 200 enqueues accepted around the restart", len(accepted))
	if len(accepted) < 150 {
		t.Fatalf("only %d of 200 enqueues succeeded around the restart", len(accepted))
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		q, err := b.Queue(ctx, "restart")
		if err == nil && q.Counts[asyncmqtype.StateCompleted] == len(accepted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %+v, %v; want %d completed", q.Counts, err, len(accepted))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker Run: %v", err)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the logs show the password:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "reconnecting") {
		t.Errorf("the listener did not log its reconnection:\n%s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range accepted {
		j, err := b.GetJob(ctx, id)
		if err != nil || j.State != asyncmqtype.StateCompleted || runs[id] == 0 {
			t.Errorf("accepted job %s: %+v, %v, ran %d times; want completed", id, j, err, runs[id])
		}
	}
}
