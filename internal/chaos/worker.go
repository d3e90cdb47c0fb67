package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// WorkerEnv set to a store URL makes a process that calls MaybeWorker run as a chaos worker.
const WorkerEnv = "ASYNCMQ_CHAOS_WORKER"

// exitUnusable is a worker's exit status when it stopped because the store became unusable
// (asyncmqtype.ErrStoreUnusable), as a replaced SQLite file makes it.
const exitUnusable = 3

// readyLine is what a worker prints on standard output once its store is open.
const readyLine = "chaos worker ready"

// MaybeWorker runs the process as a chaos worker when WorkerEnv is set, and never returns then.
func MaybeWorker() {
	url := os.Getenv(WorkerEnv)
	if url == "" {
		return
	}
	ctx := context.Background()
	b, err := asyncmq.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker: open store:", err)
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
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		os.Exit(1)
	}
	fmt.Println(readyLine)
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		if errors.Is(err, asyncmqtype.ErrStoreUnusable) {
			os.Exit(exitUnusable)
		}
		os.Exit(1)
	}
	os.Exit(0)
}

// proc is one worker process.
type proc struct {
	cmd    *exec.Cmd
	ready  chan struct{} // closed when the worker printed readyLine
	exited chan struct{} // closed when the process ended; code is set then
	code   int
	stderr tail
	// killed is set before the harness SIGKILLs the process; replaced before it replaces the
	// file the process works on.
	killed, replaced atomic.Bool
}

// readyWriter closes ready when the worker's output holds readyLine.
type readyWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(readyLine)) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

// tail keeps the last bytes a worker wrote on standard error, to say why it exited.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = t.buf[len(t.buf)-2048:]
	}
	return len(p), nil
}

func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	return lines[len(lines)-1]
}

func (h *harness) start(i int) (*proc, error) {
	p := &proc{ready: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = exec.Command(h.cfg.Command)
	p.cmd.Env = append(os.Environ(), WorkerEnv+"="+h.url)
	p.cmd.Stdout = &readyWriter{ready: p.ready}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %d: %w", i, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	h.mu.Lock()
	h.procs[i] = p
	if h.stopping { // stopWorkers ran meanwhile and could not see this process
		p.killed.Store(true)
		_ = p.cmd.Process.Kill()
	}
	h.mu.Unlock()
	return p, nil
}

// readyWait bounds the wait for a new worker to open its store.
const readyWait = 30 * time.Second

// supervise keeps worker i running until the harness stops: it starts the process, waits for
// it to end, classifies the end, and starts it again, never while the file is being replaced.
func (h *harness) supervise(i int) {
	for {
		h.pause.RLock()
		h.mu.Lock()
		stopping := h.stopping
		h.mu.Unlock()
		if stopping {
			h.pause.RUnlock()
			return
		}
		p, err := h.start(i)
		if err != nil {
			h.pause.RUnlock()
			h.logf("%v", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		// A fault that waits for pause finds every worker ready, or gone.
		t := time.NewTimer(readyWait)
		select {
		case <-p.ready:
		case <-p.exited:
		case <-t.C:
		}
		t.Stop()
		h.pause.RUnlock()
		<-p.exited
		switch {
		case p.killed.Load(), p.replaced.Load():
			// Counted by the kill loop and the replaced-file fault.
		case p.code == exitUnusable:
			h.count(func(r *Report) { r.Unusable++ })
			h.logf("worker %d stopped with the store unusable, though no file was replaced: %s", i, p.stderr.lastLine())
		default:
			h.mu.Lock()
			stopping := h.stopping
			if !stopping {
				h.rep.Exits++
			}
			h.mu.Unlock()
			if !stopping {
				h.logf("worker %d exited (status %d): %s", i, p.code, p.stderr.lastLine())
				time.Sleep(100 * time.Millisecond) // an Open failing on a full disk is retried, not spun
			}
		}
	}
}

// killLoop SIGKILLs a random running worker every cfg.KillEvery (on average) until ctx ends.
func (h *harness) killLoop(ctx context.Context) {
	if h.cfg.KillEvery <= 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(h.cfg.KillEvery)):
		}
		h.pause.RLock()
		var live []int
		h.mu.Lock()
		for i, p := range h.procs {
			if p != nil && !isDone(p.exited) {
				live = append(live, i)
			}
		}
		i, p := -1, (*proc)(nil)
		if len(live) > 0 {
			i = live[rand.N(len(live))]
			p = h.procs[i]
		}
		h.mu.Unlock()
		if p != nil {
			p.killed.Store(true)
			if err := p.cmd.Process.Kill(); err == nil {
				h.count(func(r *Report) { r.Faults[FaultKill]++ })
				h.logf("killed worker %d", i)
			}
		}
		h.pause.RUnlock()
	}
}

// stopWorkers kills every worker and keeps them from being restarted.
func (h *harness) stopWorkers() {
	h.mu.Lock()
	h.stopping = true
	procs := append([]*proc(nil), h.procs...)
	h.mu.Unlock()
	for _, p := range procs {
		if p != nil {
			p.killed.Store(true)
			_ = p.cmd.Process.Kill()
		}
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
