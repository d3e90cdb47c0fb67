package dbauth

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/users"
)

func TestUserCache(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	c := &userCache{ttl: time.Second, now: func() time.Time { return now }, m: map[string]cacheEntry{}}
	c.put("a", &users.User{ID: "a"}, nil)
	c.put("gone", nil, users.ErrUserNotFound)

	tests := []struct {
		advance time.Duration
		id      string
		wantHit bool
		wantErr error
	}{
		{0, "a", true, nil},
		{0, "gone", true, users.ErrUserNotFound},
		{0, "b", false, nil},
		{999 * time.Millisecond, "a", true, nil},
		{time.Millisecond, "a", false, nil}, // exactly ttl after put: expired
	}
	for _, tt := range tests {
		now = now.Add(tt.advance)
		e, ok := c.get(tt.id)
		if ok != tt.wantHit || !errors.Is(e.err, tt.wantErr) {
			t.Errorf("at +%v get(%q) = %v, %v; want hit %t err %v", now.Sub(time.Unix(1000, 0)), tt.id, ok, e.err, tt.wantHit, tt.wantErr)
		}
	}
}

// A flood of distinct subjects is bounded: the cache never grows past cacheSize.
func TestUserCacheBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	c := &userCache{ttl: time.Minute, now: func() time.Time { return now }, m: map[string]cacheEntry{}}
	for i := range cacheSize + 500 {
		c.put(fmt.Sprint(i), nil, users.ErrUserNotFound)
	}
	if n := len(c.m); n > cacheSize {
		t.Errorf("cache holds %d entries, want at most %d", n, cacheSize)
	}
	if _, ok := c.get(fmt.Sprint(cacheSize + 499)); !ok {
		t.Error("the newest entry was evicted")
	}
}
