package asyncmq

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	_ "github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/asyncmq/asyncmq/backend/sqlite"
	"github.com/asyncmq/asyncmq/internal/pgtest"
	"github.com/asyncmq/asyncmq/internal/redistest"
)

// helperDBEnv names the SQLite file a helper worker process works on; helperURLEnv names any
// other store by URL.
const (
	helperDBEnv  = "ASYNCMQ_TEST_HELPER_DB"
	helperURLEnv = "ASYNCMQ_TEST_HELPER_URL"
)

const (
	crashQueue = "crash"
	crashJobs  = 30
	// Jobs numbered from crashBlockFrom on block in the first worker, which is killed while it
	// runs them.
	crashBlockFrom = 10
	crashSlots     = 4
)

type crashArgs struct {
	N int `json:"n"`
}

// TestHelperProcess is the worker that TestCrashedWorkerJobsAreRecovered kills. It does nothing
// in a normal test run.
func TestHelperProcess(t *testing.T) {
	path, url := os.Getenv(helperDBEnv), os.Getenv(helperURLEnv)
	if path == "" && url == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b backend.Store
	var err error
	if url != "" {
		b, err = Open(ctx, url)
	} else {
		b, err = sqlite.Open(ctx, path)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	mux := NewServeMux()
	HandleTyped(mux, "crash.task", func(ctx context.Context, job *Job, a crashArgs) error {
		if a.N < crashBlockFrom {
			return nil
		}
		fmt.Println("blocked", job.ID)
		<-ctx.Done() // until the parent kills the process; the timeout only guards against leaks
		return ctx.Err()
	})
	w, err := NewWorker(b, mux, WorkerConfig{
		Queues:        map[string]int{crashQueue: crashSlots},
		WorkerID:      "doomed",
		LeaseDuration: time.Second,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	_ = w.Run(ctx)
	os.Exit(0)
}

func TestCrashedWorkerJobsAreRecovered(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "crash.db")
	b, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	testCrashRecovery(t, b, helperDBEnv+"="+path)
}

// TestRedisCrashedWorkerJobsAreRecovered is the same crash on the Redis store
// (ASYNCMQ_TEST_REDIS), under a key prefix of its own.
func TestRedisCrashedWorkerJobsAreRecovered(t *testing.T) {
	t.Parallel()
	url := os.Getenv("ASYNCMQ_TEST_REDIS")
	if url == "" {
		t.Skip("ASYNCMQ_TEST_REDIS is not set")
	}
	prefix := fmt.Sprintf("amqcrash-%d", time.Now().UnixNano())
	t.Cleanup(func() { redistest.DeletePrefix(url, prefix) })
	url += "?prefix=" + prefix
	b, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open redis: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	testCrashRecovery(t, b, helperURLEnv+"="+url)
}

// TestPostgresCrashedWorkerJobsAreRecovered is the same crash on the PostgreSQL store
// (ASYNCMQ_TEST_POSTGRES), in a schema of its own.
func TestPostgresCrashedWorkerJobsAreRecovered(t *testing.T) {
	t.Parallel()
	url := pgtest.FreshSchema(t, "migrate", "auto")
	b, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	testCrashRecovery(t, b, helperURLEnv+"="+url)
}

// testCrashRecovery enqueues jobs into b, has a helper worker process (started with helperEnv)
// block on some of them and kills it with SIGKILL, then checks that a second worker completes
// every job exactly once.
func testCrashRecovery(t *testing.T, b backend.Store, helperEnv string) {
	ctx := context.Background()
	reqs := make([]Request, crashJobs)
	for i := range reqs {
		reqs[i] = Request{Task: "crash.task", Payload: crashArgs{N: i}, Options: []EnqueueOption{Queue(crashQueue)}}
	}
	jobs, err := NewClient(b).EnqueueMany(ctx, reqs)
	if err != nil {
		t.Fatalf("EnqueueMany: %v", err)
	}

	// First worker: a child process, killed with SIGKILL while it runs crashSlots jobs.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper worker: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	blocked := map[string]bool{}
	lines := bufio.NewScanner(out)
	for len(blocked) < crashSlots && lines.Scan() {
		if id, ok := strings.CutPrefix(lines.Text(), "blocked "); ok {
			blocked[id] = true
		} else {
			t.Fatalf("helper worker: %s", lines.Text())
		}
	}
	if len(blocked) < crashSlots {
		t.Fatalf("helper worker exited after blocking on %d jobs: %v", len(blocked), lines.Err())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill helper worker: %v", err)
	}
	_ = cmd.Wait()
	for id := range blocked {
		j, err := b.GetJob(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != asyncmqtype.StateActive || j.WorkerID != "doomed" {
			t.Fatalf("job %s after the kill: state %s worker %q, want active under the dead worker", id, j.State, j.WorkerID)
		}
	}

	// Second worker: recovers the dead worker's jobs once their leases expire, runs the rest.
	var mu sync.Mutex
	runs := map[string]int{}
	mux := NewServeMux()
	mux.HandleFunc("crash.task", func(ctx context.Context, job *Job) error {
		mu.Lock()
		runs[job.ID]++
		mu.Unlock()
		return nil
	})
	events := &eventLog{changed: make(chan struct{})}
	w, err := NewWorker(b, mux, WorkerConfig{
		Queues:          map[string]int{crashQueue: crashSlots},
		LeaseDuration:   time.Second,
		StalledInterval: 100 * time.Millisecond,
		PollInterval:    50 * time.Millisecond,
		Logger:          slog.New(slog.DiscardHandler),
		OnEvent:         events.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	events.waitUntil(t, "every job completed", func([]WorkerEvent) bool {
		q, err := b.Queue(ctx, crashQueue)
		return err == nil && q.Counts[asyncmqtype.StateCompleted] == crashJobs
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	completedEvents := map[string]int{}
	evs, err := b.Events(ctx, asyncmqtype.EventsParams{Queue: crashQueue, Limit: 10000})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	for _, e := range evs {
		if e.Type == asyncmqtype.EventCompleted {
			completedEvents[e.JobID]++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, j := range jobs {
		got, err := b.GetJob(ctx, j.ID)
		if err != nil {
			t.Fatalf("job %s lost: %v", j.ID, err)
		}
		if got.State != asyncmqtype.StateCompleted || completedEvents[j.ID] != 1 {
			t.Errorf("job %s: state %s, completed %d times; want completed exactly once", j.ID, got.State, completedEvents[j.ID])
		}
		if blocked[j.ID] {
			if got.Stalls != 1 || got.Attempts != 2 || runs[j.ID] != 1 {
				t.Errorf("recovered job %s: stalls %d attempts %d reruns %d; want 1, 2, 1", j.ID, got.Stalls, got.Attempts, runs[j.ID])
			}
		}
	}
	if len(completedEvents) != crashJobs {
		t.Errorf("%d jobs have a completed event, want %d", len(completedEvents), crashJobs)
	}
}
