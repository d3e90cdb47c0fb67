package proxyauth_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/proxyauth"
)

const (
	proxyAddr     = "10.0.0.10:51000"
	outsiderAddr  = "203.0.113.9:51000"
	trustedSubnet = "10.0.0.0/24"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

type testBundle struct {
	backend *proxyauth.Backend
	handler http.Handler
	logs    *syncBuffer
}

// setup builds the backend from cfg (TrustedProxies defaults to the test subnet) behind an
// admin whose dashboard echoes the admitted user.
func setup(t *testing.T, cfg proxyauth.Config, acfg admin.Config) testBundle {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies = []string{trustedSubnet}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	b, err := proxyauth.New(cfg)
	if err != nil {
		t.Fatalf("proxyauth.New: %v", err)
	}
	acfg.EnableLogin, acfg.Backend = true, b
	acfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	acfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := admin.UserFromContext(r.Context())
		fmt.Fprintf(w, "id=%s email=%s admin=%v roles=%s", u.ID, u.Email, u.IsAdmin, strings.Join(u.Roles, ","))
	})
	a, err := admin.New(acfg)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	return testBundle{backend: b, handler: a.Handler(), logs: logs}
}

func request(method, target, remote string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestGateWithProxyHeaders(t *testing.T) {
	t.Parallel()
	adminFlag := []string{"X-Authenticated-Admin", "true"}
	with := func(h ...string) []string { return append(append([]string{}, adminFlag...), h...) }
	tests := []struct {
		name     string
		cfg      proxyauth.Config
		acfg     admin.Config
		remote   string
		headers  []string
		wantCode int
		wantBody string
		wantLog  string
		// zeroHeaders keeps cfg.Headers zero; otherwise an unset Headers means AsyncMQ's full set.
		zeroHeaders bool
	}{
		{name: "no header", remote: proxyAddr, wantCode: http.StatusSeeOther},
		{name: "trusted proxy with header", remote: proxyAddr, headers: with("X-Authenticated-User", "alice"),
			wantCode: 200, wantBody: "id=alice email= admin=true roles="},
		{name: "spoofed header from an untrusted peer", remote: outsiderAddr,
			headers:  with("X-Authenticated-User", "admin", "X-Forwarded-For", "10.0.0.10"),
			wantCode: http.StatusSeeOther, wantLog: "identity header from an untrusted peer"},
		{name: "duplicated user header", remote: proxyAddr,
			headers:  with("X-Authenticated-User", "alice", "X-Authenticated-User", "root"),
			wantCode: http.StatusSeeOther, wantLog: "identity header repeated"},
		{name: "duplicated roles header", remote: proxyAddr,
			headers:  with("X-Authenticated-User", "alice", "X-Authenticated-Roles", "a", "X-Authenticated-Roles", "admin"),
			wantCode: http.StatusSeeOther, wantLog: "identity header repeated"},
		{name: "user header of 256 bytes", remote: proxyAddr, headers: with("X-Authenticated-User", strings.Repeat("u", 256)),
			wantCode: 200},
		{name: "user header of 257 bytes", remote: proxyAddr, headers: with("X-Authenticated-User", strings.Repeat("u", 257)),
			wantCode: http.StatusSeeOther, wantLog: "identity header too long"},
		{name: "raised length limit", cfg: proxyauth.Config{MaxValueLen: 1024}, remote: proxyAddr,
			headers: with("X-Authenticated-User", strings.Repeat("u", 1000)), wantCode: 200},
		{name: "control character", remote: proxyAddr, headers: with("X-Authenticated-User", "al\tice"),
			wantCode: http.StatusSeeOther, wantLog: "control characters"},
		{name: "blank user", remote: proxyAddr, headers: with("X-Authenticated-User", "  "), wantCode: http.StatusSeeOther},
		{name: "not admin", remote: proxyAddr, headers: []string{"X-Authenticated-User", "bob"},
			wantCode: http.StatusForbidden, wantBody: "Dashboard user is not authorized"},
		{name: "admin flag shapes follow Truthy", remote: proxyAddr,
			headers:  []string{"X-Authenticated-User", "bob", "X-Authenticated-Admin", "[\"true\"]"},
			wantCode: http.StatusForbidden},
		{name: "roles as given", remote: proxyAddr,
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"ops"}},
			headers:  []string{"X-Authenticated-User", "bob", "X-Authenticated-Roles", "viewer, ops"},
			wantCode: 200, wantBody: "id=bob email= admin=false roles=viewer,ops"},
		{name: "missing required role", remote: proxyAddr,
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"ops"}},
			headers:  []string{"X-Authenticated-User", "bob", "X-Authenticated-Roles", "viewer"},
			wantCode: http.StatusForbidden},
		{name: "oauth2-proxy preset with admin group", remote: proxyAddr,
			cfg: proxyauth.Config{Headers: proxyauth.OAuth2Proxy, AdminGroups: []string{"platform"}},
			headers: []string{"X-Forwarded-User", "carol", "X-Forwarded-Email", "carol@example.com",
				"X-Forwarded-Groups", "dev,platform"},
			wantCode: 200, wantBody: "id=carol email=carol@example.com admin=true roles=dev,platform"},
		{name: "oauth2-proxy preset ignores the AsyncMQ header", remote: proxyAddr,
			cfg:      proxyauth.Config{Headers: proxyauth.OAuth2Proxy},
			headers:  []string{"X-Authenticated-User", "carol"},
			wantCode: http.StatusSeeOther},
		// Issue 11 item 1: a proxy that sets only its own headers passes a client's admin flag on.
		{name: "client admin flag through an oauth2-proxy is refused", remote: proxyAddr,
			cfg:      proxyauth.Config{Headers: proxyauth.OAuth2Proxy},
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"viewer"}},
			headers:  with("X-Forwarded-User", "mallory", "X-Forwarded-Groups", "viewer"),
			wantCode: http.StatusSeeOther, wantLog: "admin header that is not configured"},
		{name: "client admin flag with a custom header set is refused", remote: proxyAddr,
			cfg:      proxyauth.Config{Headers: proxyauth.Headers{User: "X-User"}},
			headers:  with("X-User", "mallory"),
			wantCode: http.StatusSeeOther, wantLog: "admin header that is not configured"},
		{name: "explicit group mapping", remote: proxyAddr,
			cfg: proxyauth.Config{Headers: proxyauth.OAuth2Proxy,
				GroupRoles: map[string][]string{"sre": {"operator", "viewer"}, "support": {"viewer"}}},
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"operator"}},
			headers:  []string{"X-Forwarded-User", "dan", "X-Forwarded-Groups", "support,sre,admin"},
			wantCode: 200, wantBody: "id=dan email= admin=false roles=viewer,operator"},
		{name: "unmapped admin group grants nothing", remote: proxyAddr,
			cfg:      proxyauth.Config{Headers: proxyauth.OAuth2Proxy, GroupRoles: map[string][]string{}},
			headers:  []string{"X-Forwarded-User", "eve", "X-Forwarded-Groups", "admin"},
			wantCode: http.StatusForbidden},
		{name: "custom user header only", remote: proxyAddr,
			cfg:      proxyauth.Config{Headers: proxyauth.Headers{User: "x-user", Admin: "X-Admin"}},
			headers:  []string{"X-User", "frank", "X-Admin", "yes"},
			wantCode: 200, wantBody: "id=frank email= admin=true roles="},
		// The zero Headers reads user and roles but not the admin flag, and refuses a request
		// carrying it: the proxy in front may not know to strip it.
		{name: "zero header set does not trust the admin flag", remote: proxyAddr, zeroHeaders: true,
			headers:  with("X-Authenticated-User", "mallory"),
			wantCode: http.StatusSeeOther, wantLog: "admin header that is not configured"},
		{name: "zero header set reads user and roles", remote: proxyAddr, zeroHeaders: true,
			acfg:     admin.Config{RequireAdmin: new(false), RequiredRoles: []string{"ops"}},
			headers:  []string{"X-Authenticated-User", "bob", "X-Authenticated-Roles", "ops"},
			wantCode: 200, wantBody: "id=bob email= admin=false roles=ops"},
		{name: "unix socket proxy", cfg: proxyauth.Config{TrustedProxies: []string{"unix"}}, remote: "@",
			headers: with("X-Authenticated-User", "gina"), wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.cfg.Headers == (proxyauth.Headers{}) && !tt.zeroHeaders {
				tt.cfg.Headers = proxyauth.AsyncMQ
			}
			b := setup(t, tt.cfg, tt.acfg)
			res := httptest.NewRecorder()
			b.handler.ServeHTTP(res, request("GET", "/asyncmq/queues", tt.remote, tt.headers...))
			if res.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%q)", res.Code, tt.wantCode, res.Body.String())
			}
			if tt.wantCode == http.StatusSeeOther {
				if loc := res.Header().Get("Location"); loc != "/asyncmq/login?next=/asyncmq/queues" {
					t.Errorf("Location = %q", loc)
				}
			}
			if tt.wantBody != "" && res.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", res.Body.String(), tt.wantBody)
			}
			logs := b.logs.String()
			if tt.wantLog != "" && !strings.Contains(logs, tt.wantLog) {
				t.Errorf("log lacks %q: %s", tt.wantLog, logs)
			}
			if tt.wantLog == "" && logs != "" {
				t.Errorf("unexpected log: %s", logs)
			}
			for i := 1; i < len(tt.headers); i += 2 {
				if v := tt.headers[i]; len(v) > 3 && v != "true" && strings.Contains(logs, v) {
					t.Errorf("log leaks header value %q: %s", v, logs)
				}
			}
		})
	}
}

func TestAuthenticateErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, proxyauth.Config{}, admin.Config{})
	for _, r := range []*http.Request{
		request("GET", "/", outsiderAddr, "X-Authenticated-User", "a"),
		request("GET", "/", proxyAddr),
		request("GET", "/", proxyAddr, "X-Authenticated-User", "a", "X-Authenticated-User", "b"),
	} {
		u, err := b.backend.Authenticate(r)
		if u != nil || !errors.Is(err, admin.ErrNoCredentials) {
			t.Errorf("Authenticate = %v, %v; want ErrNoCredentials", u, err)
		}
	}
	u, err := b.backend.Authenticate(request("GET", "/", proxyAddr, "X-Authenticated-User", " alice ", "X-Authenticated-Roles", "a,,b"))
	if err != nil || u.ID != "alice" || !slices.Equal(u.Roles, []string{"a", "b"}) {
		t.Errorf("Authenticate = %+v, %v", u, err)
	}
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	nested := func(h http.Handler) http.Handler { return http.StripPrefix("/operations", h) }
	tests := []struct {
		name     string
		cfg      proxyauth.Config
		req      *http.Request
		wantCode int
		wantLoc  string
		wantBody []string
	}{
		{name: "login page names the header", req: request("GET", "/operations/asyncmq/login", outsiderAddr),
			cfg:      proxyauth.Config{Headers: proxyauth.OAuth2Proxy},
			wantCode: 200, wantBody: []string{"This deployment expects an authenticated proxy header.", "<code>X-Forwarded-User</code>"}},
		{name: "login page ignores an untrusted header",
			req:      request("GET", "/operations/asyncmq/login?next=/operations/asyncmq/queues", outsiderAddr, "X-Authenticated-User", "a"),
			wantCode: 200, wantBody: []string{"This deployment expects an authenticated proxy header."}},
		{name: "already signed in at the proxy: on to next",
			req:      request("GET", "/operations/asyncmq/login?next=/operations/asyncmq/queues", proxyAddr, "X-Authenticated-User", "a"),
			wantCode: http.StatusSeeOther, wantLoc: "/operations/asyncmq/queues"},
		{name: "already signed in, off-site next",
			req:      request("GET", "/operations/asyncmq/login?next=//evil.example", proxyAddr, "X-Authenticated-User", "a"),
			wantCode: http.StatusSeeOther, wantLoc: "/operations/asyncmq/"},
		{name: "logout to the mounted login page", req: request("POST", "/operations/asyncmq/logout", proxyAddr),
			wantCode: http.StatusSeeOther, wantLoc: "/operations/asyncmq/login"},
		{name: "logout to the proxy's sign-out", cfg: proxyauth.Config{LogoutURL: "/oauth2/sign_out"},
			req: request("GET", "/operations/asyncmq/logout", proxyAddr), wantCode: http.StatusSeeOther, wantLoc: "/oauth2/sign_out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg, admin.Config{})
			res := httptest.NewRecorder()
			nested(b.handler).ServeHTTP(res, tt.req)
			if res.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%q)", res.Code, tt.wantCode, res.Body.String())
			}
			if got := res.Header().Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q, want %q", got, tt.wantLoc)
			}
			for _, s := range tt.wantBody {
				if !strings.Contains(res.Body.String(), s) {
					t.Errorf("body lacks %q: %s", s, res.Body.String())
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  proxyauth.Config
		want string
	}{
		{"no trusted proxies", proxyauth.Config{}, "proxyauth: Config.TrustedProxies is required"},
		{"empty trusted proxies", proxyauth.Config{TrustedProxies: []string{}}, "proxyauth: Config.TrustedProxies is required"},
		{"wildcard proxy", proxyauth.Config{TrustedProxies: []string{"*"}}, `proxyauth: Config.TrustedProxies: trusted proxy entry "*" is refused`},
		{"hostname proxy", proxyauth.Config{TrustedProxies: []string{"proxy"}}, `proxyauth: Config.TrustedProxies: trusted proxy entry "proxy" is neither`},
		{"bad header name", proxyauth.Config{TrustedProxies: []string{"10.0.0.1"}, Headers: proxyauth.Headers{User: "X User"}},
			`proxyauth: Config.Headers.User "X User" is not a header name`},
		{"bad groups header", proxyauth.Config{TrustedProxies: []string{"10.0.0.1"}, Headers: proxyauth.Headers{Groups: "X:G"}},
			`proxyauth: Config.Headers.Groups "X:G" is not a header name`},
		{"negative length", proxyauth.Config{TrustedProxies: []string{"10.0.0.1"}, MaxValueLen: -1},
			"proxyauth: Config.MaxValueLen must not be negative"},
		{"off-site logout", proxyauth.Config{TrustedProxies: []string{"10.0.0.1"}, LogoutURL: "//evil.example"},
			`proxyauth: Config.LogoutURL "//evil.example" must be a path or an https:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := proxyauth.New(tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	be, err := proxyauth.New(proxyauth.Config{TrustedProxies: []string{trustedSubnet}, Headers: proxyauth.OAuth2Proxy})
	if err != nil {
		b.Fatal(err)
	}
	r := request("GET", "/asyncmq/", proxyAddr, "X-Forwarded-User", "alice", "X-Forwarded-Groups", "dev,platform")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAuthenticate feeds arbitrary identity headers from a trusted proxy: the backend must
// never panic, and any user it returns must be clean.
func FuzzAuthenticate(f *testing.F) {
	f.Add("alice", "alice@example.com", "dev, platform", "true")
	f.Add("", "", ",,,", "")
	f.Add("a\tb", "x", "admin", "yes")
	f.Add(strings.Repeat("u", 300), "", "", "")
	f.Add("mallory", "", "viewer", "TRUE")
	be, err := proxyauth.New(proxyauth.Config{
		TrustedProxies: []string{trustedSubnet},
		Headers:        proxyauth.Headers{User: "X-User", Email: "X-Email", Groups: "X-Groups", Admin: "X-Admin"},
		AdminGroups:    []string{"platform"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, user, email, groups, adminFlag string) {
		r := request("GET", "/", proxyAddr)
		for k, v := range map[string]string{"X-User": user, "X-Email": email, "X-Groups": groups, "X-Admin": adminFlag} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		u, err := be.Authenticate(r)
		if err != nil {
			if u != nil || !errors.Is(err, admin.ErrNoCredentials) {
				t.Fatalf("Authenticate = %v, %v", u, err)
			}
			return
		}
		if u.ID == "" || len(u.ID) > proxyauth.DefaultMaxValueLen || strings.TrimSpace(u.ID) != u.ID {
			t.Fatalf("bad ID %q", u.ID)
		}
		for _, s := range append([]string{u.ID, u.Email}, u.Roles...) {
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("control character in %q", s)
			}
		}
		for _, role := range u.Roles {
			if role == "" || strings.Contains(role, ",") || strings.TrimSpace(role) != role {
				t.Fatalf("bad role %q in %q", role, u.Roles)
			}
		}
	})
}
