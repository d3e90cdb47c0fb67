package passwordauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
	"golang.org/x/crypto/bcrypt"
)

func TestClientFromRemoteAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ remote, want string }{
		{"192.0.2.7:5123", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::9]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"@", "@"}, // a unix socket: one client
		{"", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if got := ClientFromRemoteAddr(r); got != tt.want {
			t.Errorf("ClientFromRemoteAddr(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

func TestLimitersBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newLimiters(Throttle{Burst: 1, Every: time.Hour}, 3)
	for _, k := range []string{"a", "b", "c"} {
		if w := l.take(k, now); w != 0 {
			t.Fatalf("first take(%q) waited %v", k, w)
		}
	}
	// "a" is used again, so "b" is the least recently used when "d" arrives.
	if w := l.take("a", now); w != time.Hour {
		t.Errorf("second take(a) = %v, want 1h", w)
	}
	l.take("d", now)
	if n := l.len(); n != 3 {
		t.Errorf("%d limiters tracked, want the bound of 3", n)
	}
	tests := []struct {
		key      string
		wantWait time.Duration
	}{
		{"a", time.Hour}, // kept: still throttled
		{"b", 0},         // evicted: starts with a full bucket
	}
	for _, tt := range tests {
		if w := l.available(tt.key, now); w != tt.wantWait {
			t.Errorf("available(%q) = %v, want %v", tt.key, w, tt.wantWait)
		}
	}
}

// Failures put the per-user bucket in debt, so every further failure pushes the next attempt
// later: backoff rather than a fixed lockout.
func TestSpendBacksOff(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newLimiters(Throttle{Burst: 1, Every: time.Minute}, 10)
	for i, want := range []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute} {
		if w := l.available("u", now); w != want {
			t.Errorf("after %d failures: wait %v, want %v", i, w, want)
		}
		l.spend("u", now)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, time.Hour: 3600} {
		if got := retryAfter(d); got != want {
			t.Errorf("retryAfter(%v) = %d, want %d", d, got, want)
		}
	}
}

// With every hashing slot taken, a sign-in waits HashWait and is then answered 503 with
// Retry-After, having spent no CPU on a hash.
func TestHashSlotsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := userstest.Store(t, userstest.SQLite(t))
	hasher := users.Hasher{Params: users.HashParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	b, err := New(Config{Store: store, Hasher: hasher, MaxConcurrentHashes: 1, HashWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := admin.New(admin.Config{EnableLogin: true, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	post := func() *httptest.ResponseRecorder {
		form := url.Values{"username": {"ghost"}, "password": {"whatever1"}}
		r := httptest.NewRequest("POST", "/asyncmq/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		return w
	}
	if !b.acquireHashSlot(ctx) {
		t.Fatal("could not take the only slot")
	}
	w := post()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("with no free slot: %d Retry-After %q, want 503 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	b.releaseHashSlot()
	if w := post(); w.Code != http.StatusUnauthorized {
		t.Errorf("with the slot free again: %d, want 401", w.Code)
	}
	if n := len(b.hashSlots); n != 0 {
		t.Errorf("%d slots still held after the requests, want 0", n)
	}
}

// The per-user key of a name longer than any stored one is bounded, so a flood of huge
// usernames costs the LRU a fixed amount of memory per key; real names keep their own keys, and
// case is kept, since the store compares names exactly.
func TestUsernameKeyBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A", maxForm)
	tests := []struct{ in, want string }{
		{" Admin ", "Admin"},
		{strings.Repeat("B", maxUsername), strings.Repeat("B", maxUsername)},
		{long, strings.Repeat("A", maxUsername+1)},
		{long + "x", strings.Repeat("A", maxUsername+1)},
	}
	for _, tt := range tests {
		if got := usernameKey(tt.in); got != tt.want {
			t.Errorf("usernameKey(%d bytes) = %d bytes %.10q..., want %d bytes", len(tt.in), len(got), got, len(tt.want))
		}
	}
}

// panickingStore panics where a faulty Store implementation might: storing an upgraded hash.
type panickingStore struct{ *users.SQLStore }

func (panickingStore) SetPassword(context.Context, string, string) error {
	panic("store bug")
}

// A Store that panics during the sign-in's hash upgrade must not keep the hashing slot: with
// one slot, every later sign-in would otherwise wait HashWait and get 503.
func TestHashSlotReleasedOnPanic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sql := userstest.Store(t, userstest.SQLite(t))
	if _, err := sql.Create(ctx, users.User{ID: "olga", Active: true}); err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := sql.SetPassword(ctx, "olga", string(bc)); err != nil {
		t.Fatal(err)
	}
	hasher := users.Hasher{Params: users.HashParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	b, err := New(Config{Store: panickingStore{sql}, Hasher: hasher, MaxConcurrentHashes: 1, HashWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := admin.New(admin.Config{EnableLogin: true, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	post := func(user, pw string) (w *httptest.ResponseRecorder, panicked bool) {
		defer func() { panicked = recover() != nil }()
		form := url.Values{"username": {user}, "password": {pw}}
		r := httptest.NewRequest("POST", "/asyncmq/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w = httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		return w, false
	}
	if _, panicked := post("olga", "correct horse"); !panicked {
		t.Fatal("sign-in with a bcrypt hash did not reach the panicking SetPassword")
	}
	if n := len(b.hashSlots); n != 0 {
		t.Errorf("%d slots held after the panic, want 0", n)
	}
	if w, _ := post("ghost", "whatever1"); w.Code != http.StatusUnauthorized {
		t.Errorf("sign-in after the panic: %d, want 401", w.Code)
	}
}
