package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/redis"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// asyncmqLibraries lists the function libraries of asyncmq on the server.
func asyncmqLibraries(t *testing.T, raw *goredis.Client) []string {
	t.Helper()
	libs, err := raw.FunctionList(t.Context(), goredis.FunctionListQuery{LibraryNamePattern: "asyncmq_*"}).Result()
	if err != nil {
		t.Fatalf("FUNCTION LIST: %v", err)
	}
	var names []string
	for _, l := range libs {
		names = append(names, l.Name)
	}
	return names
}

// claimAndFinish claims up to limit jobs of queue ev and completes them, and returns their IDs.
func claimAndFinish(t *testing.T, s backend.Store, limit int) []string {
	t.Helper()
	ctx := t.Context()
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "ev", WorkerID: "w", Limit: limit, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	var ids []string
	var items []backend.Finish
	for _, j := range got {
		ids = append(ids, j.ID)
		items = append(items, backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted, Duration: time.Millisecond})
	}
	if len(items) == 0 {
		return nil
	}
	errs, err := s.Finish(ctx, backend.FinishParams{Items: items})
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("finish %s: %v", ids[i], e)
		}
	}
	return ids
}

// A server that lost the store's functions (FUNCTION DELETE or FLUSH, a restart without
// persistence) gets them back at the next call that misses one, and that call still does its
// work.
func TestFunctionsLoadedAgain(t *testing.T) {
	t.Parallel()
	u := testURL(t)
	s := openStore(t, withPrefix(u, freshPrefix(t, u)))
	raw := rawClient(t, u)
	ctx := t.Context()
	own := redis.FunctionLibraries()
	if libs := asyncmqLibraries(t, raw); !containsAll(libs, own) {
		t.Fatalf("after Open the server has libraries %v, want %v among them", libs, own)
	}
	enqueueIDs(t, s, "a", "b", "c")
	for _, name := range own {
		// Another test may have deleted it first.
		if err := raw.FunctionDelete(ctx, name).Err(); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatalf("FUNCTION DELETE %s: %v", name, err)
		}
	}
	if ids := claimAndFinish(t, s, 1); strings.Join(ids, ",") != "a" {
		t.Fatalf("claimed %v after the functions were deleted, want [a]", ids)
	}
	if libs := asyncmqLibraries(t, raw); !containsAll(libs, own) {
		t.Fatalf("after a call missed its function the server has libraries %v, want %v loaded again", libs, own)
	}
	if ids := claimAndFinish(t, s, 2); strings.Join(ids, ",") != "b,c" {
		t.Fatalf("claimed %v, want [b c]", ids)
	}
	q, err := s.Queue(ctx, "ev")
	if err != nil || q.Counts[asyncmqtype.StateCompleted] != 3 {
		t.Fatalf("queue counts %v (%v), want 3 completed", q.Counts, err)
	}
}

func containsAll(names, want []string) bool {
	for _, w := range want {
		if !slices.Contains(names, w) {
			return false
		}
	}
	return true
}

// A store that opens deletes the libraries that other versions of the store loaded, so that
// they do not pile up with every upgrade, and leaves every other library alone.
func TestFunctionsOfOtherVersionsDeleted(t *testing.T) {
	t.Parallel()
	u := testURL(t)
	raw := rawClient(t, u)
	ctx := t.Context()
	other := "asyncmq_finish_" + strings.Repeat("0", 20)
	keep := "asyncmq_" + strings.ReplaceAll(freshPrefix(t, u), "-", "_")
	for _, name := range []string{other, keep} {
		src := fmt.Sprintf("#!lua name=%s\nredis.register_function('%s', function() return 1 end)\n", name, name)
		if err := raw.FunctionLoad(ctx, src).Err(); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("FUNCTION LOAD %s: %v", name, err)
		}
	}
	t.Cleanup(func() { raw.FunctionDelete(context.Background(), keep) })
	openStore(t, withPrefix(u, freshPrefix(t, u)))
	libs := asyncmqLibraries(t, raw)
	if slices.Contains(libs, other) {
		t.Errorf("the library %s of another version is still there: %v", other, libs)
	}
	if !slices.Contains(libs, keep) {
		t.Errorf("the library %s, not one of the store's, was deleted: %v", keep, libs)
	}
	// Whether its own are there is TestFunctionsLoadedAgain's to say: that test deletes them
	// for a moment, and runs beside this one.
}

// syncBuffer is a bytes.Buffer a logger may write to from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// openAsUser opens a store, under a fresh prefix, as a new ACL user of the test Redis with a
// password, every channel and the rules that rules returns for the prefix, and returns it with
// its log.
func openAsUser(t *testing.T, name string, rules func(prefix string) []string) (*redis.Store, *syncBuffer) {
	t.Helper()
	u := testURL(t)
	raw := rawClient(t, u)
	prefix := freshPrefix(t, u)
	user, pass := prefix+"-"+name, "pw-"+prefix
	args := append([]any{"ACL", "SETUSER", user, "on", ">" + pass, "&*"}, anys(rules(prefix))...)
	if err := raw.Do(t.Context(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { raw.Do(context.Background(), "ACL", "DELUSER", user) })
	pu, err := url.Parse(withPrefix(u, prefix))
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword(user, pass)
	logs := new(syncBuffer)
	s, err := redis.Open(t.Context(), pu.String(), redis.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatalf("open as %s: %v", user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

func anys(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// A user whose ACL refuses the function commands, or only FCALL (an odd ACL, but a possible
// one), still claims and finishes jobs: the store says so once in its log and runs those calls,
// and all later ones, as scripts.
func TestScriptsWhenFunctionsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		rules []string
		log   string
	}{
		{"no functions", []string{"~*", "+@all", "-function", "-fcall", "-fcall_ro"}, "refuses to load functions"},
		{"no fcall", []string{"~*", "+@all", "-fcall", "-fcall_ro"}, "refuses FCALL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, logs := openAsUser(t, "nofn", func(string) []string { return tt.rules })
			enqueueIDs(t, s, "a", "b", "c")
			if ids := claimAndFinish(t, s, 2); strings.Join(ids, ",") != "a,b" {
				t.Fatalf("claimed %v, want [a b]", ids)
			}
			if ids := claimAndFinish(t, s, 2); strings.Join(ids, ",") != "c" {
				t.Fatalf("claimed %v, want [c]", ids)
			}
			if n := strings.Count(logs.String(), tt.log); n != 1 {
				t.Fatalf("the log says %d times %q, want once:\n%s", n, tt.log, logs.String())
			}
		})
	}
}

// A call refused for its keys (an ACL that gives the user some queues only) is refused as a
// script would be, and the store keeps calling functions for the queues it may use.
func TestFunctionsKeptAfterAKeyRefusal(t *testing.T) {
	t.Parallel()
	s, logs := openAsUser(t, "onequeue", func(prefix string) []string {
		return []string{"~" + prefix + ":[^{]*", "~" + prefix + ":{ev}:*", "+@all"}
	})
	_, err := s.Claim(t.Context(), backend.ClaimParams{Queue: "other", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("claim of a queue the user may not touch: %v, want a NOPERM error", err)
	}
	enqueueIDs(t, s, "a")
	if ids := claimAndFinish(t, s, 1); strings.Join(ids, ",") != "a" {
		t.Fatalf("claimed %v, want [a]", ids)
	}
	if strings.Contains(logs.String(), "refuses") {
		t.Fatalf("a refusal of keys turned functions off:\n%s", logs.String())
	}
}

// A load of the functions that fails for a while (here, writes refused for want of a replica)
// does not give up on functions: calls run as scripts meanwhile, and a later call loads them.
func TestFunctionsLoadedAfterAPassingRefusal(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--min-replicas-to-write", "1")
	var logs syncBuffer
	ctx := t.Context()
	s, err := redis.Open(ctx, srv.URL(), redis.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	raw := rawClient(t, srv.URL())
	if libs := asyncmqLibraries(t, raw); len(libs) != 0 {
		t.Fatalf("the server has libraries %v though it refuses writes", libs)
	}
	// Claims from many goroutines while the load keeps failing, past loadRetry: they answer (no
	// jobs), and the outage is logged once.
	var wg sync.WaitGroup
	stop := time.Now().Add(1500 * time.Millisecond)
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if _, err := s.Claim(ctx, backend.ClaimParams{Queue: "ev", WorkerID: "w", Limit: 1, LeaseDuration: time.Minute}); err != nil {
					t.Errorf("claim while the functions cannot be loaded: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := strings.Count(logs.String(), "load the function libraries"); n != 1 {
		t.Fatalf("the log says %d times that the libraries could not be loaded, want once:\n%s", n, logs.String())
	}
	if err := raw.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	enqueueIDs(t, s, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; !containsAll(asyncmqLibraries(t, raw), redis.FunctionLibraries()); n++ {
		if time.Now().After(deadline) || n == 10 {
			t.Fatalf("no function library loaded after %d claims once the server took writes again; log:\n%s", n, logs.String())
		}
		if ids := claimAndFinish(t, s, 1); len(ids) != 1 {
			t.Fatalf("claim %d took %v, want one job", n, ids)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "refuses to load functions") || !strings.Contains(logs.String(), "loaded again") {
		t.Fatalf("a passing refusal turned functions off, or their return went unsaid:\n%s", logs.String())
	}
}
