package admin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

// revocableBackend is the fake backend with a switch that refuses users later on, as a store
// would after "users disable", and an optional credential expiry.
type revocableBackend struct {
	fakeBackend
	mu      sync.Mutex
	revoked map[string]bool
	expires time.Time
}

func (b *revocableBackend) revoke(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.revoked[id] = true
}

func (b *revocableBackend) Authenticate(r *http.Request) (*admin.User, error) {
	u, err := b.fakeBackend.Authenticate(r)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.revoked[u.ID] {
		return nil, admin.ErrNoCredentials
	}
	u.ExpiresAt = b.expires
	return u, nil
}

// streamHandler is a dashboard whose every page is a stream: it reports why its StreamContext
// ended on the ended channel.
func streamHandler(ended chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := admin.StreamContext(r)
		defer cancel()
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-ctx.Done():
			ended <- context.Cause(ctx)
		case <-time.After(10 * time.Second):
			ended <- errors.New("the stream was never ended")
		}
	})
}

// TestStreamsEndWithTheirUser reproduces issue 11 item 4: an open stream kept delivering after
// sign-out, after the account was disabled and after the token's expiry.
func TestStreamsEndWithTheirUser(t *testing.T) {
	t.Parallel()
	type setupFn func(b *revocableBackend, c *admin.Config)
	tests := []struct {
		name  string
		setup setupFn
		// act runs once the stream is open; cookie is the stream's session cookie.
		act  func(t *testing.T, b *revocableBackend, h http.Handler, cookie *http.Cookie)
		want error
	}{
		{name: "sign-out ends the stream at once",
			setup: func(b *revocableBackend, c *admin.Config) { c.StreamRecheckInterval = time.Hour },
			act: func(t *testing.T, _ *revocableBackend, h http.Handler, cookie *http.Cookie) {
				r := request("POST", "/asyncmq/logout", "Origin", "http://example.com")
				r.AddCookie(cookie)
				if res := serve(t, h, r); res.code != http.StatusSeeOther {
					t.Errorf("logout: %d", res.code)
				}
			},
			want: admin.ErrSignedOut},
		{name: "a disabled account is caught by the re-check",
			setup: func(b *revocableBackend, c *admin.Config) { c.StreamRecheckInterval = 20 * time.Millisecond },
			act: func(_ *testing.T, b *revocableBackend, _ http.Handler, _ *http.Cookie) {
				b.revoke("alice")
			},
			want: admin.ErrSignedOut},
		{name: "expiring credentials end the stream",
			setup: func(b *revocableBackend, c *admin.Config) {
				c.StreamRecheckInterval = time.Hour
				b.expires = time.Now().Add(100 * time.Millisecond)
			},
			act:  func(*testing.T, *revocableBackend, http.Handler, *http.Cookie) {},
			want: admin.ErrSignedOut},
		{name: "another session's sign-out leaves the stream alone",
			setup: func(b *revocableBackend, c *admin.Config) { c.StreamRecheckInterval = 50 * time.Millisecond },
			act: func(t *testing.T, b *revocableBackend, h http.Handler, _ *http.Cookie) {
				other := login(t, h, "bob")
				r := request("POST", "/asyncmq/logout", "Origin", "http://example.com")
				r.AddCookie(other)
				serve(t, h, r)
				// Let a few re-checks pass; the client's own departure then ends the stream.
				time.Sleep(200 * time.Millisecond)
			},
			want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan error, 1)
			be := &revocableBackend{revoked: map[string]bool{}}
			b := setup(t, func(c *admin.Config) {
				c.Backend = be
				c.Handler = streamHandler(ended)
				tt.setup(be, c)
			})
			cookie := login(t, b.handler, "alice")
			srv := httptest.NewServer(b.handler)
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/asyncmq/events", nil)
			req.AddCookie(cookie)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("stream: %d", res.StatusCode)
			}
			tt.act(t, be, b.handler, cookie)
			if tt.want == context.Canceled {
				cancel()
			}
			select {
			case got := <-ended:
				if !errors.Is(got, tt.want) {
					t.Fatalf("stream ended with %v, want %v", got, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stream is still open")
			}
		})
	}
}

// login signs in through the fake backend's form and returns the session cookie.
func login(t *testing.T, h http.Handler, user string) *http.Cookie {
	t.Helper()
	form := url.Values{"user": {user}}
	r := withBody(request("POST", "/asyncmq/login", "Origin", "http://example.com", "Content-Type", "application/x-www-form-urlencoded"), form.Encode())
	res := serve(t, h, r)
	if res.code != http.StatusSeeOther {
		t.Fatalf("login as %s: %d", user, res.code)
	}
	c := sessionCookie(t, res, "asyncmq_session")
	return &http.Cookie{Name: c.Name, Value: c.Value}
}

func TestStreamContextWithoutLogin(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	b := setup(t, func(c *admin.Config) {
		c.EnableLogin, c.Backend = false, nil
		c.Handler = streamHandler(ended)
		c.StreamRecheckInterval = 10 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	b.handler.ServeHTTP(httptest.NewRecorder(), request("GET", "/asyncmq/events").WithContext(ctx))
	if got := <-ended; !errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("stream without login ended with %v, want only the request's own end", got)
	}
	if _, err := admin.New(admin.Config{StreamRecheckInterval: -1}); err == nil {
		t.Error("a negative StreamRecheckInterval was accepted")
	}
}
