package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// helperEnv, when set to a database path, turns the test binary into a claiming worker process
// for TestProcessesClaimEachJobOnce.
const helperEnv = "ASYNCMQ_SQLITE_TEST_CLAIMER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		if err := claimerProcess(path, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := makeTemplate()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	bigCleanup()
	os.Exit(code)
}

// templateDB is an empty, migrated database that tests copy instead of migrating a new file
// each: most of the cost of a test's fresh store is creating the schema.
var templateDB []byte

func makeTemplate() (string, error) {
	dir, err := os.MkdirTemp("", "asyncmq-sqlite-template")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "template.db")
	b, err := Open(context.Background(), path)
	if err != nil {
		return dir, err
	}
	if err := b.Close(); err != nil {
		return dir, err
	}
	templateDB, err = os.ReadFile(path)
	return dir, err
}

// FreshDB returns the path of a new empty database in a temporary folder of t.
func FreshDB(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "asyncmq.db")
	if err := os.WriteFile(path, templateDB, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// claimerProcess claims and completes jobs of queue "q" until none is left, printing "ready"
// once open and then the ID of each job it claimed.
func claimerProcess(path string, out io.Writer) error {
	ctx := context.Background()
	b, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintln(out, "ready")
	// The parent starts claiming when it reads "ready"; wait for its go.
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	_, err = drain(ctx, b, "child", func(id string) { fmt.Fprintln(out, id) })
	return err
}

// drain claims batches of queue "q" and completes them until a claim comes back empty.
func drain(ctx context.Context, b *Backend, worker string, claimed func(id string)) (int, error) {
	n := 0
	for {
		jobs, err := b.Claim(ctx, backend.ClaimParams{Queue: "q", WorkerID: worker, Limit: 7, LeaseDuration: time.Minute})
		if err != nil {
			return n, err
		}
		if len(jobs) == 0 {
			return n, nil
		}
		items := make([]backend.Finish, len(jobs))
		for i, j := range jobs {
			claimed(j.ID)
			items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
		}
		errs, err := b.Finish(ctx, backend.FinishParams{Items: items})
		if err != nil {
			return n, err
		}
		for i, err := range errs {
			if err != nil {
				return n, fmt.Errorf("finish %s: %w", jobs[i].ID, err)
			}
		}
		n += len(jobs)
	}
}

// requireEachOnce checks that every enqueued job was claimed exactly once.
func requireEachOnce(t *testing.T, total int, claims map[string][]string) {
	t.Helper()
	seen := map[string]string{}
	for who, ids := range claims {
		for _, id := range ids {
			if other, dup := seen[id]; dup {
				t.Errorf("job %s claimed by %s and by %s", id, other, who)
			}
			seen[id] = who
		}
	}
	if len(seen) != total {
		t.Errorf("%d jobs claimed, want %d", len(seen), total)
	}
}

// sharedJobs is how many jobs the sharing tests distribute.
func sharedJobs() int {
	if raceEnabled {
		return 200
	}
	return 1500
}

func TestHandlesClaimEachJobOnce(t *testing.T) {
	t.Parallel()
	total := sharedJobs()
	s := setup(t)
	s.enqueueN("q", "j", total, time.Time{})
	other, err := Open(s.ctx, s.path, ReadConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	var mu sync.Mutex
	claims := map[string][]string{}
	var wg sync.WaitGroup
	for i, b := range []*Backend{s.b, s.b, other, other} {
		who := fmt.Sprintf("handle%d/goroutine%d", i/2, i)
		wg.Go(func() {
			_, err := drain(s.ctx, b, who, func(id string) {
				mu.Lock()
				claims[who] = append(claims[who], id)
				mu.Unlock()
			})
			if err != nil {
				t.Errorf("%s: %v", who, err)
			}
		})
	}
	wg.Wait()
	requireEachOnce(t, total, claims)
	s.requireCountersMatchRows()
	q, err := other.Queue(s.ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	if q.Counts[asyncmqtype.StateCompleted] != total || q.Counts[asyncmqtype.StateWaiting] != 0 {
		t.Errorf("counts %v, want %d completed and none waiting", q.Counts, total)
	}
}

func TestProcessesClaimEachJobOnce(t *testing.T) {
	t.Parallel()
	total := sharedJobs()
	s := setup(t)
	s.enqueueN("q", "j", total, time.Time{})

	cmd := exec.CommandContext(s.ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+s.path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("claimer process did not get ready: %q %v", lines.Text(), lines.Err())
	}
	var childIDs []string
	childDone := make(chan struct{})
	childStarted := make(chan struct{})
	go func() {
		defer close(childDone)
		for lines.Scan() {
			if childIDs = append(childIDs, lines.Text()); len(childIDs) == 1 {
				close(childStarted)
			}
		}
	}()
	fmt.Fprintln(stdin, "go")
	// The parent starts once the child has claimed its first batch, so that both take part
	// however slowly the child starts (under the race detector, say).
	select {
	case <-childStarted:
	case <-childDone:
	}

	var mine []string
	if _, err := drain(s.ctx, s.b, "parent", func(id string) { mine = append(mine, id) }); err != nil {
		t.Fatalf("parent: %v", err)
	}
	<-childDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("claimer process: %v", err)
	}
	requireEachOnce(t, total, map[string][]string{"parent": mine, "child": childIDs})
	s.requireCountersMatchRows()
	// SQLite's lock is not fair, so the split varies from run to run; it is logged, not checked.
	t.Logf("parent claimed %d jobs, child %d", len(mine), len(childIDs))
}
