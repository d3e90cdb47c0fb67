package redis_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/backendtest"
	"github.com/asyncmq/asyncmq/backend/redis"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// testURL returns the Redis the tests use (ASYNCMQ_TEST_REDIS) and skips when it is unset.
func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("ASYNCMQ_TEST_REDIS")
	if u == "" {
		t.Skip("ASYNCMQ_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	return u
}

// freshPrefix returns a key prefix no other test uses, and deletes its keys after the test.
func freshPrefix(t *testing.T, url string) string {
	t.Helper()
	prefix := uniquePrefix()
	t.Cleanup(func() { redistest.DeletePrefix(url, prefix) })
	return prefix
}

func uniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "amqtest-" + hex.EncodeToString(b[:])
}

// rawClient connects to the test Redis directly, for a test to look at or change keys itself.
func rawClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(opt)
	t.Cleanup(func() { raw.Close() })
	return raw
}

func withPrefix(url, prefix string) string {
	return url + "?prefix=" + prefix
}

func openStore(t *testing.T, url string) *redis.Store {
	t.Helper()
	s, err := openStoreErr(t, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return s
}

func openStoreErr(t testing.TB, url string) (*redis.Store, error) {
	s, err := redis.Open(t.Context(), url)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s, nil
}

func TestConformance(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	backendtest.Run(t, func(t *testing.T) backend.Store {
		return openStore(t, withPrefix(url, freshPrefix(t, url)))
	})
}

func TestConformanceShared(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	backendtest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) {
		u := withPrefix(url, freshPrefix(t, url))
		return openStore(t, u), openStore(t, u)
	})
}
