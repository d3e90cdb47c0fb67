package redis_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/redis"
	"github.com/asyncmq/asyncmq/internal/redistest"
)

// TestOpenRefuses checks that each kind of unusable Redis gives an error that names the problem
// and never shows the password.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	plain := redistest.Start(t)
	secured := redistest.Start(t, "--requirepass", "s3cret-pw")
	evicting := redistest.Start(t, "--maxmemory", "50mb", "--maxmemory-policy", "allkeys-lru")
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"unreachable", "redis://:s3cret-pw@127.0.0.1:1/0?dial_timeout=200ms", "cannot reach redis"},
		{"wrong password", "redis://:wrong-pw@" + secured.Addr() + "/0", "refused the credentials"},
		{"no password", "redis://" + secured.Addr() + "/0", "refused the credentials"},
		{"cluster URL on a plain server", "redis+cluster://" + plain.Addr(), "not a Cluster node"},
		{"evicting policy", "redis://" + evicting.Addr() + "/0", `maxmemory-policy is "allkeys-lru"`},
		{"bad database", "redis://" + plain.Addr() + "/x", "not a number"},
		{"unknown option", "redis://" + plain.Addr() + "/0?nope=1", `unknown option "nope"`},
		{"several hosts without cluster", "redis://a:1,b:2/0", "redis+cluster://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := redis.Open(t.Context(), tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error mentioning %q", tt.url, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) error %q does not mention %q", tt.url, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret-pw") || strings.Contains(err.Error(), "wrong-pw") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}

	t.Run("evicting policy allowed", func(t *testing.T) {
		t.Parallel()
		s, err := redis.Open(t.Context(), "redis://"+evicting.Addr()+"/0?allow_eviction=1")
		if err != nil {
			t.Fatalf("open with allow_eviction=1: %v", err)
		}
		s.Close()
	})
	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		s, err := redis.Open(t.Context(), "redis://:s3cret-pw@"+secured.Addr()+"/0")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
}

// TestFullRedis fills a Redis that refuses writes past maxmemory: enqueue fails with a clear
// error, and every job the store accepted is still there.
func TestFullRedis(t *testing.T) {
	t.Parallel()
	for _, path := range enqueuePaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, "--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
			s := openStore(t, srv.URL())
			ctx := t.Context()
			payload := `{"pad":"` + strings.Repeat("x", 2000) + `"}`
			var accepted []string
			var err error
			for i := 0; i < 10000; i++ {
				id := fmt.Sprintf("j%05d", i)
				err = s.Enqueue(ctx, pathParams(path.plain, &asyncmqtype.JobInfo{ID: id, Queue: "q", Task: "t", Payload: []byte(payload)}))
				if err != nil {
					break
				}
				accepted = append(accepted, id)
			}
			if err == nil {
				t.Fatal("10000 jobs of 2 KB fit in 3 MB")
			}
			if !strings.Contains(err.Error(), "out of memory") {
				t.Fatalf("enqueue into a full Redis: %v, want an error saying Redis is out of memory", err)
			}
			q, qerr := s.Queue(ctx, "q")
			if qerr != nil {
				t.Fatal(qerr)
			}
			if q.Counts[asyncmqtype.StateWaiting] != len(accepted) {
				t.Fatalf("%d jobs waiting, %d accepted", q.Counts[asyncmqtype.StateWaiting], len(accepted))
			}
			for _, id := range []string{accepted[0], accepted[len(accepted)-1]} {
				if _, err := s.GetJob(ctx, id); err != nil {
					t.Fatalf("accepted job %s: %v", id, err)
				}
			}
			if errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Fatalf("a full Redis is not invalid input: %v", err)
			}
			// A claim of a queue with nothing to claim writes nothing, so it still answers.
			idle := backend.ClaimParams{Queue: "idle", WorkerID: "w", Limit: 5, LeaseDuration: time.Minute}
			if jobs, err := s.Claim(ctx, idle); err != nil || len(jobs) != 0 {
				t.Fatalf("claim of an idle queue of a full Redis: %d jobs, %v; want none and no error", len(jobs), err)
			}
			// A process starting now, under a prefix with no layout record yet, cannot write
			// one: it starts all the same, and its enqueues say why they fail.
			other, err := openStoreErr(t, withPrefix(srv.URL(), "late"))
			if err != nil {
				t.Fatalf("open a store on a full Redis: %v", err)
			}
			err = other.Enqueue(ctx, pathParams(path.plain, &asyncmqtype.JobInfo{ID: "late", Queue: "q", Task: "t", Payload: []byte(payload)}))
			if err == nil || !strings.Contains(err.Error(), "out of memory") {
				t.Fatalf("enqueue from the late store: %v, want an error saying Redis is out of memory", err)
			}
			// Nor could it load its functions: its calls run as scripts.
			if jobs, err := other.Claim(ctx, idle); err != nil || len(jobs) != 0 {
				t.Fatalf("claim of an idle queue from the late store: %d jobs, %v; want none and no error", len(jobs), err)
			}
		})
	}
}

// pathParams enqueues jobs in one call; plain, as asyncmq.Client makes jobs (fresh IDs, times and
// Now set), which the store writes without the enqueue script (see fastenq.go).
func pathParams(plain bool, jobs ...*asyncmqtype.JobInfo) backend.EnqueueParams {
	if !plain {
		return backend.EnqueueParams{Jobs: jobs}
	}
	now := time.Now()
	for _, j := range jobs {
		j.RunAt, j.CreatedAt = now, now
	}
	return backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: true}
}

// TestWakeUp measures how fast a subscriber of one store handle learns of a job enqueued
// through another (two handles stand for two processes: the signal goes through Redis).
func TestWakeUp(t *testing.T) {
	t.Parallel()
	for _, path := range enqueuePaths {
		t.Run(path.name, func(t *testing.T) {
			url := testURL(t)
			u := withPrefix(url, freshPrefix(t, url))
			producer, worker := openStore(t, u), openStore(t, u)
			ch, stop := worker.Subscribe("idle")
			defer stop()
			time.Sleep(50 * time.Millisecond) // let the subscription reach Redis
			ctx := t.Context()
			var lat []time.Duration
			for i := range 200 {
				start := time.Now()
				if err := producer.Enqueue(ctx, pathParams(path.plain, &asyncmqtype.JobInfo{ID: fmt.Sprint("w", i), Queue: "idle", Task: "t"})); err != nil {
					t.Fatal(err)
				}
				select {
				case <-ch:
					lat = append(lat, time.Since(start))
				case <-time.After(2 * time.Second):
					t.Fatalf("no wake-up for job %d", i)
				}
			}
			p50, p99 := percentile(lat, 50), percentile(lat, 99)
			t.Logf("enqueue-to-wake-up latency over %d jobs: p50 %s, p99 %s", len(lat), p50, p99)
			if p50 > 20*time.Millisecond {
				t.Errorf("p50 wake-up latency %s, want a few milliseconds", p50)
			}
		})
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[(len(s)-1)*p/100]
}

// The store records its key layout, and a build refuses data a newer build wrote rather than
// misread it.
func TestLayoutRecord(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	openStore(t, withPrefix(url, prefix))
	raw := rawClient(t, url)
	ctx := t.Context()
	if got := raw.Get(ctx, prefix+":layout").Val(); got != fmt.Sprint(redis.Layout) {
		t.Fatalf("recorded layout %q, want %d", got, redis.Layout)
	}
	for record, want := range map[string]string{
		fmt.Sprint(redis.Layout + 1): fmt.Sprintf("has key layout %d, written by a newer asyncmq", redis.Layout+1),
		"x":                          `holds "x", not a number`,
	} {
		raw.Set(ctx, prefix+":layout", record, 0)
		_, err := openStoreErr(t, withPrefix(url, prefix))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("open with layout record %q: %v, want an error saying %q", record, err, want)
		}
	}
	raw.Set(ctx, prefix+":layout", "0", 0) // an older build's data is taken over
	openStore(t, withPrefix(url, prefix))
	if got := raw.Get(ctx, prefix+":layout").Val(); got != fmt.Sprint(redis.Layout) {
		t.Fatalf("after an older layout: recorded %q, want %d", got, redis.Layout)
	}
}
