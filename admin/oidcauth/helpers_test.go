package oidcauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/oidcauth"
	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
)

const (
	clientID     = "asyncmq-dashboard"
	clientSecret = "test-client-secret-0123456789"
	prefix       = "/asyncmq"
)

// testUsers are the provider's accounts; each password is the subject + "-pw".
var testUsers = []oidctest.User{
	{Subject: "alice", Name: "Alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"asyncmq-admins"}},
	{Subject: "bob", Name: "Bob", Email: "bob@example.com", EmailVerified: true, Groups: []string{"ops"}},
	{Subject: "carol", Name: "Carol", Email: "carol@corp.example", EmailVerified: true},
	{Subject: "dave", Name: "Dave", Email: "dave@corp.example", EmailVerified: false},
	{Subject: "mallory", Name: "Mallory", Email: "mallory@evil.example", EmailVerified: true, Groups: []string{"other"}},
	{Subject: "kc", Name: "Keycloak User", Email: "kc@example.com", EmailVerified: true,
		Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"queue-operators"}}}},
	{Subject: "paid", Name: "Paid", Email: "paid@example.com", EmailVerified: true, Claims: map[string]any{"plan": "enterprise"}},
}

func init() {
	for i := range testUsers {
		testUsers[i].Password = testUsers[i].Subject + "-pw"
	}
}

// env is a provider, an admin guarded by the backend, and what the test observes of them.
type env struct {
	t        *testing.T
	provider *oidctest.Provider
	backend  *oidcauth.Backend
	url      string // the admin's root, http://127.0.0.1:port/asyncmq

	mu      sync.Mutex
	audits  []oidcauth.AuditEvent
	rewrite func(body map[string]any) // applied to token endpoint answers, when set
}

type envOptions struct {
	lifetime time.Duration
	mutate   func(*oidcauth.Config)
}

// setup starts a provider and an admin at /asyncmq whose dashboard echoes the user and roles.
func setup(t *testing.T, opts envOptions) *env {
	t.Helper()
	e := &env{t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String() + prefix
	e.provider, err = oidctest.Start(oidctest.Config{
		Users: testUsers,
		Clients: []oidctest.Client{{
			ID: clientID, Secret: clientSecret,
			RedirectURIs:           []string{e.url + oidcauth.CallbackPath},
			PostLogoutRedirectURIs: []string{e.url + "/login"},
		}},
		IDTokenLifetime: opts.lifetime,
		Intercept:       e.intercept,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.provider.Close() })

	cfg := oidcauth.Config{
		Issuer:         e.provider.URL,
		ClientID:       clientID,
		ClientSecret:   clientSecret,
		RedirectURL:    e.url + oidcauth.CallbackPath,
		Scopes:         []string{"openid", "profile", "email", "offline_access"},
		ProviderName:   "Test IdP",
		RoleMap:        map[string]string{"asyncmq-admins": "admin", "ops": "operator"},
		AllowedDomains: []string{"corp.example"},
		Audit: func(_ context.Context, a oidcauth.AuditEvent) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.audits = append(e.audits, a)
		},
		Logger: slog.New(slog.DiscardHandler),
	}
	if opts.mutate != nil {
		opts.mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.backend, err = oidcauth.New(ctx, cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.backend.Close() })
	adm, err := admin.New(admin.Config{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := admin.UserFromContext(r.Context())
			fmt.Fprintf(w, "user=%s name=%s roles=%s admin=%v", u.ID, u.DisplayName(), strings.Join(u.Roles, ","), u.Admin())
		}),
		URLPrefix:     prefix,
		EnableLogin:   true,
		Backend:       e.backend,
		RequireAdmin:  new(false),
		RequiredRoles: []string{"viewer", "operator", "admin"},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	adm.Mount(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return e
}

// intercept lets a test rewrite the token endpoint's JSON answers.
func (e *env) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		rewrite := e.rewrite
		e.mu.Unlock()
		if rewrite == nil || r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		rewrite(body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

func (e *env) setRewrite(f func(map[string]any)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rewrite = f
}

// rewriteIDToken replaces the answer's ID token by sign(claims after change).
func (e *env) rewriteIDToken(change func(claims map[string]any), sign func(claims map[string]any) (string, error)) {
	e.setRewrite(func(body map[string]any) {
		raw, _ := body["id_token"].(string)
		claims := decodeClaims(e.t, raw)
		change(claims)
		tok, err := sign(claims)
		if err != nil {
			e.t.Error(err)
			return
		}
		body["id_token"] = tok
	})
}

func (e *env) auditLog() []oidcauth.AuditEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]oidcauth.AuditEvent(nil), e.audits...)
}

func decodeClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token %q is not a compact JWS", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// otherKey signs tokens the provider never would.
func otherKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, target string, form url.Values, header http.Header) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) get(target string) response { return b.do(http.MethodGet, target, nil, nil) }

func (b *browser) post(target string, form url.Values) response {
	return b.do(http.MethodPost, target, form, nil)
}

// expect fails the test unless r has status and, when given, a Location starting with loc.
func expect(t *testing.T, what string, r response, status int, loc string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; Location %q; body %q", what, r.status, status, r.header.Get("Location"), r.body)
	}
	if loc != "" && !strings.HasPrefix(r.header.Get("Location"), loc) {
		t.Fatalf("%s: Location %q, want prefix %q", what, r.header.Get("Location"), loc)
	}
}

// authorize presses "Sign in" (with next), signs in at the provider as user, and returns the
// callback URL the provider sends the browser to, without visiting it.
func (e *env) authorize(b *browser, user, next string) string {
	e.t.Helper()
	form := url.Values{}
	if next != "" {
		form.Set("next", next)
	}
	r := b.post(e.url+"/login", form)
	expect(e.t, "start sign-in", r, http.StatusOK, "")
	refresh := r.header.Get("Refresh")
	if !strings.HasPrefix(refresh, "0; url="+e.provider.URL+"/authorize?") {
		e.t.Fatalf("start sign-in: Refresh %q, want the provider's authorization endpoint", refresh)
	}
	auth, _ := url.Parse(strings.TrimPrefix(refresh, "0; url="))
	q := auth.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": clientID, "code_challenge_method": "S256", "redirect_uri": e.url + oidcauth.CallbackPath} {
		if got := q.Get(k); got != want {
			e.t.Fatalf("authorization request %s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			e.t.Fatalf("authorization request has no %s", k)
		}
	}
	r = b.get(auth.String())
	expect(e.t, "authorize", r, http.StatusFound, e.provider.URL+"/login?id=")
	loginURL := r.header.Get("Location")
	r = b.get(loginURL)
	expect(e.t, "provider login page", r, http.StatusOK, "")
	id, _ := url.Parse(loginURL)
	r = b.post(e.provider.URL+"/login", url.Values{"id": {id.Query().Get("id")}, "username": {user}, "password": {user + "-pw"}})
	expect(e.t, "provider sign-in", r, http.StatusFound, "")
	r = b.get(r.header.Get("Location"))
	expect(e.t, "provider callback", r, http.StatusFound, e.url+oidcauth.CallbackPath+"?")
	return r.header.Get("Location")
}

// signIn signs user in and checks that the callback lands on the dashboard.
func (e *env) signIn(b *browser, user string) {
	e.t.Helper()
	r := b.get(e.authorize(b, user, ""))
	expect(e.t, "callback", r, http.StatusSeeOther, prefix+"/")
}
