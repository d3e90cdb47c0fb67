// Package wakebench measures how soon a job enqueued by one process to an idle queue starts in
// a worker of another process: the cost of waking an idle worker, by a store's cross-process
// notifications or, without them, by polling. Run it on any store:
//
//	go test -run '^$' -bench IdleWakeup -benchtime 200x ./internal/wakebench
//	ASYNCMQ_WAKEBENCH_URL=postgres://... go test -run '^$' -bench IdleWakeup -benchtime 200x ./internal/wakebench
//
// Without ASYNCMQ_WAKEBENCH_URL it uses a SQLite file in a temporary folder. It reports the
// enqueue-to-start latency percentiles (p50-ms, p99-ms) and the CPU the idle worker process uses
// (idle-cpu-%, of one core).
package wakebench

import (
	"bufio"
	"context"
	"fmt"
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
)

const (
	workerURLEnv = "ASYNCMQ_WAKEBENCH_WORKER_URL"
	queue        = "wake"
	// idleGap is how long the queue stays empty before each enqueue: longer than the worker's
	// longest poll wait (250 ms), so every sample starts from a fully idle worker.
	idleGap = 300 * time.Millisecond
)

type stamp struct {
	EnqueuedAt int64 `json:"enqueued_at"` // Unix nanoseconds
}

// TestWorkerProcess is the worker process of the benchmark; it does nothing in a normal test run.
// It prints "ready" once it runs, then one line per job: the enqueue-to-start latency in
// nanoseconds.
func TestWorkerProcess(t *testing.T) {
	url := os.Getenv(workerURLEnv)
	if url == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s, err := asyncmq.Open(ctx, url)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	mux := asyncmq.NewServeMux()
	asyncmq.HandleTyped(mux, "wake", func(ctx context.Context, job *asyncmq.Job, st stamp) error {
		say(strconv.FormatInt(time.Now().UnixNano()-st.EnqueuedAt, 10))
		return nil
	})
	w, err := asyncmq.NewWorker(s, mux, asyncmq.WorkerConfig{
		Queues: map[string]int{queue: 4},
		Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(e asyncmq.WorkerEvent) {
			if e.Kind == asyncmq.WorkerFetched && e.Err == nil {
				readyOnce.Do(func() { say("ready") })
			}
		},
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	_ = w.Run(ctx)
	os.Exit(0)
}

var (
	readyOnce sync.Once
	sayMu     sync.Mutex
)

// say writes one line to the parent; handlers and the fetcher call it from several goroutines.
func say(line string) {
	sayMu.Lock()
	defer sayMu.Unlock()
	fmt.Println(line)
}

func storeURL(b *testing.B) string {
	if u := os.Getenv("ASYNCMQ_WAKEBENCH_URL"); u != "" {
		return u
	}
	return "sqlite://" + filepath.Join(b.TempDir(), "wake.db")
}

func BenchmarkIdleWakeupAcrossProcesses(b *testing.B) {
	ctx := b.Context()
	url := storeURL(b)
	s, err := asyncmq.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	client := asyncmq.NewClient(s)

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestWorkerProcess$")
	cmd.Env = append(os.Environ(), workerURLEnv+"="+url)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatal("the worker process exited")
			}
			if strings.HasPrefix(l, "error") {
				b.Fatal(l)
			}
			return l
		case <-time.After(30 * time.Second):
			b.Fatal("no answer from the worker process in 30s")
		}
		return ""
	}
	if l := next(); l != "ready" {
		b.Fatalf("worker process said %q, want ready", l)
	}

	// Idle CPU: what the worker process burns in a second with nothing to do.
	time.Sleep(idleGap)
	cpu0 := processCPU(b, cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(time.Second)
	idleCPU := (processCPU(b, cmd.Process.Pid) - cpu0).Seconds() / time.Since(t0).Seconds() * 100

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		time.Sleep(idleGap)
		b.StartTimer()
		if _, err := client.Enqueue(ctx, "wake", stamp{EnqueuedAt: time.Now().UnixNano()}, asyncmq.Queue(queue)); err != nil {
			b.Fatal(err)
		}
		n, err := strconv.ParseInt(next(), 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Duration(n))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(idleCPU, "idle-cpu-%")
	b.ReportMetric(0, "ns/op")
}

// processCPU returns the user and system CPU time a process has used, from /proc.
func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read process CPU: %v", err)
	}
	// The command name may hold spaces; fields are counted after its closing parenthesis.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
