package dashboard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sharedSetup returns a shared value whose loads return how many loads there have been.
func sharedSetup(t *testing.T, ttl time.Duration) (*shared[int64], *atomic.Int64) {
	t.Helper()
	loads := new(atomic.Int64)
	return newShared(ttl, func(context.Context) (int64, error) { return loads.Add(1), nil }), loads
}

func TestSharedLoadsOnceForConcurrentViewers(t *testing.T) {
	t.Parallel()
	s, loads := sharedSetup(t, time.Hour)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if v, err := s.get(t.Context()); err != nil || v != 1 {
				t.Errorf("get = %d, %v; want the first load's 1", v, err)
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("50 concurrent gets loaded %d times, want once", n)
	}
}

func TestSharedExpiresAndInvalidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ttl   time.Duration
		drop  func(*shared[int64])
		loads int64
	}{
		{"fresh value is reused", time.Hour, func(*shared[int64]) {}, 1},
		{"invalidate reloads", time.Hour, (*shared[int64]).invalidate, 2},
		{"expired value reloads", time.Nanosecond, func(*shared[int64]) {}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, loads := sharedSetup(t, tt.ttl)
			if _, err := s.get(t.Context()); err != nil {
				t.Fatal(err)
			}
			tt.drop(s)
			v, err := s.get(t.Context())
			if err != nil || v != tt.loads || loads.Load() != tt.loads {
				t.Errorf("second get = %d, %v after %d loads; want value and loads %d", v, err, loads.Load(), tt.loads)
			}
		})
	}
}

func TestSharedErrorsAreNotKept(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	s := newShared(time.Hour, func(context.Context) (int, error) {
		if calls.Add(1) == 1 {
			return 0, errors.New("backend down")
		}
		return 7, nil
	})
	if _, err := s.get(t.Context()); err == nil {
		t.Fatal("first get succeeded, want the load's error")
	}
	if v, err := s.get(t.Context()); err != nil || v != 7 {
		t.Errorf("get after a failed load = %d, %v; want a fresh load's 7", v, err)
	}
}

func TestSharedPanicBecomesError(t *testing.T) {
	t.Parallel()
	s := newShared(time.Hour, func(context.Context) (int, error) { panic("bug") })
	if _, err := s.get(t.Context()); err == nil {
		t.Fatal("a panicking load returned no error")
	}
}

// A viewer who leaves stops waiting at once; the load goes on for the others.
func TestSharedCallerCancellation(t *testing.T) {
	t.Parallel()
	loaded := make(chan struct{})
	release := make(chan struct{})
	s := newShared(time.Hour, func(ctx context.Context) (int, error) {
		close(loaded)
		<-release
		return 3, ctx.Err()
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := s.get(ctx)
		errc <- err
	}()
	<-loaded
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled get = %v, want context.Canceled", err)
	}
	close(release)
	if v, err := s.get(t.Context()); err != nil || v != 3 {
		t.Errorf("get after the first caller left = %d, %v; want the same load's 3", v, err)
	}
}
