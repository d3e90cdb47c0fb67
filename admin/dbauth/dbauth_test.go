package dbauth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/dbauth"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
)

var secret = func() []byte {
	s, err := jwtauth.GenerateSecret("HS256")
	if err != nil {
		panic(err)
	}
	return s
}()

const (
	audience = "asyncmq-admin"
	issuer   = "https://issuer.example"
)

type fixture struct {
	handler http.Handler
	store   *users.SQLStore
	logs    *syncBuffer
}

// setup mounts a dbauth backend behind a real admin gate, on a fresh database holding:
// root (active admin), olga (active, roles operator+viewer, not admin), ivan (inactive admin),
// and rolf (not admin, role "admin").
func setup(t testing.TB, db userstest.DB, cfg dbauth.Config, acfg admin.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	store := userstest.Store(t, db)
	for _, u := range []users.User{
		{ID: "root", DisplayName: "Root", Active: true, Admin: true},
		{ID: "olga", Email: "olga@example.com", Active: true, Roles: []string{"operator", "viewer"}},
		{ID: "ivan", Active: false, Admin: true},
		{ID: "rolf", Active: true, Roles: []string{"admin"}},
	} {
		if _, err := store.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.JWT.Secret, cfg.JWT.Audience, cfg.JWT.Issuer, cfg.JWT.Logger = secret, audience, issuer, log
	cfg.Store = store
	b, err := dbauth.New(ctx, cfg)
	if err != nil {
		t.Fatalf("dbauth.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	acfg.EnableLogin, acfg.Backend, acfg.Logger = true, b, log
	acfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := admin.UserFromContext(r.Context())
		fmt.Fprintf(w, "id=%s name=%s admin=%t roles=%s", u.ID, u.DisplayName(), u.IsAdmin, strings.Join(u.Roles, ","))
	})
	a, err := admin.New(acfg)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	return &fixture{handler: a.Handler(), store: store, logs: logs}
}

func token(t testing.TB, p jwtauth.IssueParams) string {
	t.Helper()
	if p.Audience == "" {
		p.Audience = audience
	}
	p.Issuer, p.TTL = issuer, time.Hour
	tok, err := jwtauth.Issue(p, "HS256", secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get sends GET /asyncmq/queues with the token, if any.
func (f *fixture) get(tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/asyncmq/queues?state=failed", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func TestGate(t *testing.T) {
	t.Parallel()
	const login = "/asyncmq/login?next=/asyncmq/queues%3Fstate%3Dfailed"
	tests := []struct {
		name      string
		cfg       dbauth.Config
		acfg      admin.Config
		tok       jwtauth.IssueParams // zero Subject: no token
		wantCode  int
		wantBody  string
		wantLogin bool
	}{
		{name: "active admin", tok: jwtauth.IssueParams{Subject: "root"},
			wantCode: 200, wantBody: "id=root name=Root admin=true roles="},
		{name: "no token", wantCode: 303, wantLogin: true},
		{name: "unknown user", tok: jwtauth.IssueParams{Subject: "mallory", Admin: true}, wantCode: 303, wantLogin: true},
		{name: "inactive admin", tok: jwtauth.IssueParams{Subject: "ivan"}, wantCode: 303, wantLogin: true},
		{name: "wrong audience", tok: jwtauth.IssueParams{Subject: "root", Audience: "other"}, wantCode: 303, wantLogin: true},
		{name: "non-admin with RequireAdmin", cfg: dbauth.Config{RequireAdmin: true},
			tok: jwtauth.IssueParams{Subject: "olga"}, wantCode: 403, wantBody: "Dashboard user is not authorized"},
		// The token claims admin and roles; the database says otherwise and wins.
		{name: "token claims are not the authority", tok: jwtauth.IssueParams{Subject: "olga", Admin: true, Roles: []string{"admin"}},
			wantCode: 403, wantBody: "Dashboard user is not authorized"},
		{name: "roles come from the database",
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"viewer"}},
			tok:      jwtauth.IssueParams{Subject: "olga", Admin: true, Roles: []string{"superuser"}},
			wantCode: 200, wantBody: "id=olga name=olga@example.com admin=false roles=operator,viewer"},
		{name: "RequireAdmin strips roles so role gates refuse too", cfg: dbauth.Config{RequireAdmin: true},
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"viewer"}},
			tok:      jwtauth.IssueParams{Subject: "olga"},
			wantCode: 403, wantBody: "Dashboard user is not authorized"},
		{name: "database admin role counts as admin", cfg: dbauth.Config{RequireAdmin: true},
			tok: jwtauth.IssueParams{Subject: "rolf"}, wantCode: 200, wantBody: "id=rolf name=rolf admin=false roles=admin"},
		{name: "custom user claim", cfg: dbauth.Config{UserClaim: "uid"},
			tok:      jwtauth.IssueParams{Subject: "mallory", Extra: map[string]any{"uid": "root"}},
			wantCode: 200, wantBody: "id=root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			userstest.Each(t, func(t *testing.T, db userstest.DB) {
				f := setup(t, db, tt.cfg, tt.acfg)
				tok := ""
				if tt.tok.Subject != "" {
					tok = token(t, tt.tok)
				}
				w := f.get(tok)
				if w.Code != tt.wantCode {
					t.Fatalf("status = %d, want %d; body %q", w.Code, tt.wantCode, w.Body.String())
				}
				if !strings.Contains(w.Body.String(), tt.wantBody) {
					t.Errorf("body = %q, want it to contain %q", w.Body.String(), tt.wantBody)
				}
				if loc := w.Header().Get("Location"); tt.wantLogin && loc != login {
					t.Errorf("Location = %q, want %q", loc, login)
				}
			})
		})
	}
}

// Disabling a user, then removing its admin flag, each take effect on the very next request.
func TestChangesApplyOnNextRequest(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		f := setup(t, db, dbauth.Config{RequireAdmin: true}, admin.Config{})
		tok := token(t, jwtauth.IssueParams{Subject: "root"})
		steps := []struct {
			change   func() error
			wantCode int
		}{
			{func() error { return nil }, 200},
			{func() error { return f.store.SetActive(ctx, "root", false) }, 303},
			{func() error { return f.store.SetActive(ctx, "root", true) }, 200},
			{func() error {
				_, err := f.store.Update(ctx, users.User{ID: "root", Active: true, Admin: false})
				return err
			}, 403},
			{func() error { return f.store.Remove(ctx, "root") }, 303},
		}
		for i, s := range steps {
			if err := s.change(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if w := f.get(tok); w.Code != s.wantCode {
				t.Fatalf("step %d: status = %d, want %d", i, w.Code, s.wantCode)
			}
		}
	})
}

// A database outage is a 503 with the gate's message and a logged error, never a 200, a login
// redirect (which would hide the outage behind a login loop) or a panic.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		f := setup(t, db, dbauth.Config{}, admin.Config{})
		tok := token(t, jwtauth.IssueParams{Subject: "root"})
		if w := f.get(tok); w.Code != 200 {
			t.Fatalf("before the outage: status %d", w.Code)
		}
		db.DB.Close()
		w := f.get(tok)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "Authentication backend unavailable") {
			t.Errorf("during the outage: %d %q, want 503 Authentication backend unavailable", w.Code, w.Body.String())
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, `dbauth: load user \"root\"`) {
			t.Errorf("logs = %q, want an error naming the failed user lookup", logs)
		}
		if strings.Contains(logs, tok) {
			t.Error("the token was logged")
		}
	})
}

// With a cache TTL the database is read once per user per TTL; without one, on every request.
func TestCacheTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ttl       time.Duration
		wantReads int
	}{
		{0, 5},
		{time.Minute, 1},
	}
	for _, tt := range tests {
		t.Run(tt.ttl.String(), func(t *testing.T) {
			t.Parallel()
			store := &countingStore{Store: userstest.Store(t, userstest.SQLite(t))}
			if _, err := store.Create(context.Background(), users.User{ID: "root", Active: true, Admin: true}); err != nil {
				t.Fatal(err)
			}
			b, err := dbauth.New(context.Background(), dbauth.Config{
				JWT:   jwtauth.Config{Secret: secret, Audience: audience, Issuer: issuer},
				Store: store, CacheTTL: tt.ttl,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+token(t, jwtauth.IssueParams{Subject: "root"}))
			for range 5 {
				if _, err := b.Authenticate(r); err != nil {
					t.Fatal(err)
				}
			}
			if store.reads != tt.wantReads {
				t.Errorf("%d store reads for 5 requests, want %d", store.reads, tt.wantReads)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	store := userstest.Store(t, userstest.SQLite(t))
	jwt := jwtauth.Config{Secret: secret}
	tests := []struct {
		name string
		cfg  dbauth.Config
		want string
	}{
		{"no store", dbauth.Config{JWT: jwt}, "Store is required"},
		{"no key", dbauth.Config{Store: store}, "no key configured"},
		{"negative TTL", dbauth.Config{JWT: jwt, Store: store, CacheTTL: -1}, "CacheTTL"},
		{"long TTL", dbauth.Config{JWT: jwt, Store: store, CacheTTL: time.Hour}, "CacheTTL"},
		{"claims disagree", dbauth.Config{JWT: jwtauth.Config{Secret: secret, UserClaim: "a"}, Store: store, UserClaim: "b"}, "disagree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dbauth.New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// Login and logout are the jwtauth pages, served under the admin's prefix.
func TestLoginLogoutDelegate(t *testing.T) {
	t.Parallel()
	f := setup(t, userstest.SQLite(t), dbauth.Config{}, admin.Config{})
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, httptest.NewRequest("GET", "/asyncmq/login?next=/asyncmq/queues", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Authorization") {
		t.Errorf("GET login: %d %q", w.Code, w.Body.String())
	}
	w = httptest.NewRecorder()
	f.handler.ServeHTTP(w, httptest.NewRequest("GET", "/asyncmq/logout", nil))
	if w.Code != 303 || w.Header().Get("Location") != "/asyncmq/login" {
		t.Errorf("GET logout: %d Location %q, want 303 to /asyncmq/login", w.Code, w.Header().Get("Location"))
	}
}

type countingStore struct {
	users.Store
	mu    sync.Mutex
	reads int
}

func (c *countingStore) Get(ctx context.Context, id string) (*users.User, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Get(ctx, id)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)
