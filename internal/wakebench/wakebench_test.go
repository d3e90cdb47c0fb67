// Package wakebench measures how soon a job enqueued by one process to an idle queue starts in
// a worker of another process: the cost of waking an idle worker, by a store's cross-process
// notifications or, without them, by polling. Run it on any store:
//
//	go test -run '^$' -bench IdleWakeup -benchtime 200x ./internal/wakebench
//	ASYNCMQ_WAKEBENCH_URL=postgres://... go test -run '^$' -bench IdleWakeup -benchtime 200x ./internal/wakebench
//
// Without ASYNCMQ_WAKEBENCH_URL it uses a SQLite file in a temporary folder, and runs twice: the
// "notify" sub-benchmark with the store's defaults, where the worker's SQLite Backend watches the
// file for the commits of other processes, and the "poll" one with watching off
// (sqlite.WatchInterval(0)), where the worker finds the job when it next polls. Other stores run
// "notify" only.
//
// Each run uses a queue of its own, enqueues one job at a time with the queue idle in between,
// checks that every job enqueued is the job that starts next, and stops the worker process
// gracefully, so no run leaves an active job behind for the next one. It reports the
// enqueue-to-start latency percentiles and maximum (p50-ms, p99-ms, max-ms) and the CPU the
// worker process uses while idle (idle-cpu-%, of one core, over ASYNCMQ_WAKEBENCH_IDLE, default
// 10s).
package wakebench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	_ "github.com/asyncmq/asyncmq/backend/all"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

const (
	workerURLEnv   = "ASYNCMQ_WAKEBENCH_WORKER_URL"
	workerQueueEnv = "ASYNCMQ_WAKEBENCH_WORKER_QUEUE"
	workerPollEnv  = "ASYNCMQ_WAKEBENCH_WORKER_POLL"
	// idleGap is how long the queue stays empty before each enqueue: longer than the worker's
	// longest poll wait (250 ms), so every sample starts from a fully idle worker.
	idleGap = 300 * time.Millisecond
	// answerTimeout bounds each wait for the worker process: a job's start, its readiness, its
	// exit after stdin closes.
	answerTimeout = 30 * time.Second
)

type stamp struct {
	EnqueuedAt int64 `json:"enqueued_at"` // Unix nanoseconds
}

// TestWorkerProcess is the worker process of the benchmark; it does nothing in a normal test run.
// It works the queue named by ASYNCMQ_WAKEBENCH_WORKER_QUEUE, prints "ready" once it runs, then
// "start <job ID> <enqueue-to-start nanoseconds>" for each job, and shuts down gracefully when
// its standard input ends, printing "stopped" once the worker and the store are closed.
func TestWorkerProcess(t *testing.T) {
	url := os.Getenv(workerURLEnv)
	if url == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	go func() {
		// The parent closes the pipe (or dies): stop.
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	s, err := openWorkerStore(ctx, url, os.Getenv(workerPollEnv) != "")
	if err != nil {
		say("error", err)
		os.Exit(1)
	}
	mux := asyncmq.NewServeMux()
	asyncmq.HandleTyped(mux, "wake", func(ctx context.Context, job *asyncmq.Job, st stamp) error {
		say("start", job.ID, time.Now().UnixNano()-st.EnqueuedAt)
		return nil
	})
	var readyOnce sync.Once
	w, err := asyncmq.NewWorker(s, mux, asyncmq.WorkerConfig{
		Queues: map[string]int{os.Getenv(workerQueueEnv): 4},
		Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(e asyncmq.WorkerEvent) {
			if e.Kind == asyncmq.WorkerFetched && e.Err == nil {
				readyOnce.Do(func() { say("ready") })
			}
		},
	})
	if err != nil {
		say("error", err)
		os.Exit(1)
	}
	if err := w.Run(ctx); err != nil {
		say("error", err)
		os.Exit(1)
	}
	if err := s.Close(); err != nil {
		say("error", err)
		os.Exit(1)
	}
	say("stopped")
	os.Exit(0)
}

// openWorkerStore opens the worker process's store; poll turns the SQLite Backend's watching
// for other processes' commits off, the "poll" side of the comparison.
func openWorkerStore(ctx context.Context, url string, poll bool) (asyncmq.Store, error) {
	path, isSQLite := sqlite.PathFromURL(url)
	if !poll || !isSQLite {
		return asyncmq.Open(ctx, url)
	}
	return sqlite.Open(ctx, path, sqlite.WatchInterval(0))
}

var sayMu sync.Mutex

// say writes one line to the parent; handlers and the fetcher call it from several goroutines.
func say(words ...any) {
	sayMu.Lock()
	defer sayMu.Unlock()
	fmt.Println(words...)
}

func BenchmarkIdleWakeupAcrossProcesses(b *testing.B) {
	url := os.Getenv("ASYNCMQ_WAKEBENCH_URL")
	if url == "" {
		url = "sqlite://" + filepath.Join(b.TempDir(), "wake.db")
	}
	b.Run("notify", func(b *testing.B) { benchWakeup(b, url, false) })
	if _, ok := sqlite.PathFromURL(url); ok {
		b.Run("poll", func(b *testing.B) { benchWakeup(b, url, true) })
	}
}

// idleWindow is how long the idle worker's CPU is measured: ASYNCMQ_WAKEBENCH_IDLE, default 10s,
// long enough for the 10ms granularity of the kernel's CPU accounting to resolve 0.1%.
func idleWindow(b *testing.B) time.Duration {
	v := os.Getenv("ASYNCMQ_WAKEBENCH_IDLE")
	if v == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("ASYNCMQ_WAKEBENCH_IDLE=%q: want a positive duration such as 10s", v)
	}
	return d
}

// benchWakeup starts a worker process on a new queue of url's store and measures the idle
// wake-up latency, one job at a time; poll turns the worker's SQLite watching off.
func benchWakeup(b *testing.B, url string, poll bool) {
	ctx := b.Context()
	s, err := asyncmq.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	client := asyncmq.NewClient(s)
	// A queue of its own: a run never meets the jobs of an earlier one.
	queue := fmt.Sprintf("wake-%d", time.Now().UnixNano())

	cmd := exec.Command(os.Args[0], "-test.run", "^TestWorkerProcess$")
	cmd.Env = append(os.Environ(), workerURLEnv+"="+url, workerQueueEnv+"="+queue)
	if poll {
		cmd.Env = append(cmd.Env, workerPollEnv+"=1")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	stopped := false
	// However the benchmark ends, the worker process ends within answerTimeout: gracefully on
	// the normal path below, killed here otherwise.
	defer func() {
		if stopped {
			return
		}
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(answerTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	next := func() []string {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatal("the worker process exited")
			}
			f := strings.Fields(l)
			if len(f) == 0 || f[0] == "error" {
				b.Fatalf("worker process: %s", l)
			}
			return f
		case <-time.After(answerTimeout):
			b.Fatalf("no answer from the worker process in %v", answerTimeout)
		}
		return nil
	}
	if l := next(); l[0] != "ready" {
		b.Fatalf("worker process said %q, want ready", l)
	}

	// Idle CPU: what the worker process burns with nothing to do.
	time.Sleep(idleGap)
	cpu0, cpuOK := processCPU(cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(idleWindow(b))
	cpu1, _ := processCPU(cmd.Process.Pid)
	idleCPU := (cpu1 - cpu0).Seconds() / time.Since(t0).Seconds() * 100

	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		time.Sleep(idleGap)
		b.StartTimer()
		info, err := client.Enqueue(ctx, "wake", stamp{EnqueuedAt: time.Now().UnixNano()}, asyncmq.Queue(queue))
		if err != nil {
			b.Fatal(err)
		}
		// One job at a time: the next start must be this job's.
		l := next()
		if len(l) != 3 || l[0] != "start" || l[1] != info.ID {
			b.Fatalf("worker process said %q, want the start of job %s", l, info.ID)
		}
		n, err := strconv.ParseInt(l[2], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Duration(n))
	}
	b.StopTimer()

	_ = stdin.Close()
	stopped = true
	select {
	case l, ok := <-lines:
		if ok && l != "stopped" {
			b.Errorf("worker process said %q on shutdown, want stopped", l)
		}
	case <-time.After(answerTimeout):
		b.Errorf("the worker process did not stop within %v", answerTimeout)
		_ = cmd.Process.Kill()
	}
	for range lines {
	}
	if err := <-exited; err != nil {
		b.Errorf("worker process: %v", err)
	}

	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	if cpuOK {
		b.ReportMetric(idleCPU, "idle-cpu-%")
	}
	b.ReportMetric(0, "ns/op")
}

// processCPU returns the user and system CPU time a process has used, from /proc, and false
// where /proc cannot tell.
func processCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name may hold spaces; fields are counted after its closing parenthesis.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, true
}
