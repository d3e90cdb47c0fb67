package jwtauth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

func setupBackend(t testing.TB, cfg Config) *Backend {
	t.Helper()
	return &Backend{v: setup(t, cfg)}
}

// syncBuffer is a log sink that parallel requests may share.
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

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/asyncmq/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestNew(t *testing.T) {
	t.Parallel()
	b, err := New(context.Background(), Config{Secret: testSecret, Now: fixedNow, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Verifier().Close()
	if b.Routes() != nil {
		t.Error("Routes() is not nil")
	}
	if _, err := New(context.Background(), Config{Secret: []byte("short-secret")}); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("New with an 11-byte secret: %v, want the length error", err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	b := setupBackend(t, Config{})
	tests := []struct {
		name    string
		req     *http.Request
		wantErr bool
		bad     bool // refused token, as opposed to none
	}{
		{"valid token", bearer(mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"is_admin": true, "roles": []string{"operator"}}), hs256(testSecret))), false, false},
		{"no header", httptest.NewRequest(http.MethodGet, "/asyncmq/", nil), true, false},
		{"garbage", bearer("not-a-token"), true, true},
		{"expired", bearer(mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"exp": testNow.Add(-time.Minute).Unix()}), hs256(testSecret))), true, true},
		{"bad signature", bearer(mint(`{"alg":"HS256"}`, claimsJSON(nil), hs256(bytes.Repeat([]byte("k"), 32)))), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := b.Authenticate(tt.req)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				want := &admin.User{ID: "alice", Name: "Alice", IsAdmin: true, Roles: []string{"operator"}}
				if u.ID != want.ID || u.Name != want.Name || u.IsAdmin != want.IsAdmin || !slices.Equal(u.Roles, want.Roles) || u.Claims["sub"] != "alice" {
					t.Errorf("user = %+v", u)
				}
				return
			}
			if u != nil {
				t.Errorf("user %+v returned with an error", u)
			}
			if !errors.Is(err, admin.ErrNoCredentials) {
				t.Fatalf("error %v does not wrap admin.ErrNoCredentials", err)
			}
			if errors.Is(err, ErrInvalidToken) != tt.bad {
				t.Errorf("errors.Is(err, ErrInvalidToken) = %v, want %v", !tt.bad, tt.bad)
			}
		})
	}
}

func TestAuthenticateWrongAudienceAndIssuer(t *testing.T) {
	t.Parallel()
	b := setupBackend(t, Config{Audience: "asyncmq-admin", Issuer: "https://issuer.example"})
	ok := map[string]any{"aud": "asyncmq-admin", "iss": "https://issuer.example"}
	if _, err := b.Authenticate(bearer(mint(`{"alg":"HS256"}`, claimsJSON(ok), hs256(testSecret)))); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	for name, c := range map[string]map[string]any{
		"wrong aud": {"aud": "other", "iss": "https://issuer.example"},
		"wrong iss": {"aud": "asyncmq-admin", "iss": "https://evil.example"},
	} {
		_, err := b.Authenticate(bearer(mint(`{"alg":"HS256"}`, claimsJSON(c), hs256(testSecret))))
		if !errors.Is(err, admin.ErrNoCredentials) {
			t.Errorf("%s: %v, want ErrNoCredentials", name, err)
		}
	}
}

func TestAuthenticateCachedUserIsShared(t *testing.T) {
	t.Parallel()
	b := setupBackend(t, Config{})
	tok := good()
	u1, err := b.Authenticate(bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := b.Authenticate(bearer(tok))
	if u1 != u2 {
		t.Error("a cached token built a new User")
	}
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		target   string
		wantForm bool
		want     []string
	}{
		{"header only", Config{}, "/login", false, []string{"<code>Authorization: Bearer &lt;token&gt;</code>", "HS256", `<link rel="icon" href="data:,">`, `<link rel="stylesheet" href="/assets/admin.css?v=`}},
		{"custom header", Config{HeaderName: "X-Admin-Token", Scheme: "JWT"}, "/login", false, []string{"X-Admin-Token: JWT &lt;token&gt;"}},
		{
			"cookie form escapes next", Config{CookieName: "asyncmq_jwt"}, "/login?next=" + url.QueryEscape(`/x"><script>alert(1)</script>`), true,
			[]string{`action="/login"`, `name="token"`, `value="/x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupBackend(t, tt.cfg)
			w := httptest.NewRecorder()
			b.Login(w, httptest.NewRequest(http.MethodGet, tt.target, nil))
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			page := string(body)
			for _, s := range tt.want {
				if !strings.Contains(page, s) {
					t.Errorf("page lacks %q:\n%s", s, page)
				}
			}
			if strings.Contains(page, "<form") != tt.wantForm {
				t.Errorf("form present = %v, want %v", !tt.wantForm, tt.wantForm)
			}
			// A strict CSP forbids inline script and style.
			for _, s := range []string{"<script", "<style", "style=", "onclick", "javascript:"} {
				if strings.Contains(strings.ToLower(page), s) {
					t.Errorf("page contains %q", s)
				}
			}
		})
	}
}

func TestLoginMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       Config
		method    string
		wantCode  int
		wantAllow string
	}{
		{"HEAD", Config{}, http.MethodHead, http.StatusOK, ""},
		{"POST without cookie support", Config{}, http.MethodPost, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PUT with cookie support", Config{CookieName: "jwt"}, http.MethodPut, http.StatusMethodNotAllowed, "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupBackend(t, tt.cfg)
			w := httptest.NewRecorder()
			b.Login(w, httptest.NewRequest(tt.method, "/login", nil))
			if w.Code != tt.wantCode || w.Header().Get("Allow") != tt.wantAllow {
				t.Errorf("status %d Allow %q, want %d %q", w.Code, w.Header().Get("Allow"), tt.wantCode, tt.wantAllow)
			}
		})
	}
}

func postLogin(b *Backend, form url.Values, tls bool) *http.Response {
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	if tls {
		r = httptest.NewRequest(http.MethodPost, "https://ops.example/login", strings.NewReader(form.Encode()))
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	b.Login(w, r)
	return w.Result()
}

func TestLoginForm(t *testing.T) {
	t.Parallel()
	tok := good()
	tests := []struct {
		name         string
		form         url.Values
		tls          bool
		wantCode     int
		wantLocation string
	}{
		{"valid token, safe next", url.Values{"token": {tok}, "next": {"/queues?state=failed"}}, false, http.StatusSeeOther, "/queues?state=failed"},
		{"pasted with Bearer prefix", url.Values{"token": {"Bearer " + tok + "\n"}, "next": {"/jobs/42"}}, false, http.StatusSeeOther, "/jobs/42"},
		{"no next", url.Values{"token": {tok}}, false, http.StatusSeeOther, "/"},
		{"over TLS", url.Values{"token": {tok}}, true, http.StatusSeeOther, "/"},
		{"open redirect //evil", url.Values{"token": {tok}, "next": {"//evil.example"}}, false, http.StatusSeeOther, "/"},
		{"open redirect /\\evil", url.Values{"token": {tok}, "next": {`/\evil.example`}}, false, http.StatusSeeOther, "/"},
		{"open redirect absolute", url.Values{"token": {tok}, "next": {"https://evil.example/"}}, false, http.StatusSeeOther, "/"},
		{"open redirect tab", url.Values{"token": {tok}, "next": {"/\t/evil.example"}}, false, http.StatusSeeOther, "/"},
		{"bad token", url.Values{"token": {tok + "x"}, "next": {"/jobs"}}, false, http.StatusUnauthorized, ""},
		{"empty token", url.Values{"next": {"/jobs"}}, false, http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupBackend(t, Config{CookieName: "asyncmq_jwt"})
			res := postLogin(b, tt.form, tt.tls)
			if res.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantCode)
			}
			if res.StatusCode != http.StatusSeeOther {
				body, _ := io.ReadAll(res.Body)
				if !strings.Contains(string(body), "That token was not accepted.") {
					t.Errorf("error page lacks the generic message:\n%s", body)
				}
				if !strings.Contains(string(body), `value="/jobs"`) {
					t.Errorf("error page lost next:\n%s", body)
				}
				if len(res.Cookies()) != 0 {
					t.Errorf("cookie set on a failed login: %v", res.Cookies())
				}
				return
			}
			if loc := res.Header.Get("Location"); loc != tt.wantLocation {
				t.Errorf("Location %q, want %q", loc, tt.wantLocation)
			}
			cookies := res.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v, want one", cookies)
			}
			c := cookies[0]
			if c.Name != "asyncmq_jwt" || c.Value != tok || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tt.tls {
				t.Errorf("cookie %+v", c)
			}
			if !c.Expires.Equal(testNow.Add(time.Hour)) {
				t.Errorf("cookie expires %v, want the token's exp %v", c.Expires, testNow.Add(time.Hour))
			}
			// The cookie alone now authenticates.
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			if _, err := b.Authenticate(r); err != nil {
				t.Errorf("cookie does not authenticate: %v", err)
			}
		})
	}
}

func TestLoginFormRefusesHugeBodies(t *testing.T) {
	t.Parallel()
	b := setupBackend(t, Config{CookieName: "jwt"})
	res := postLogin(b, url.Values{"token": {strings.Repeat("a", 1<<20)}}, false)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", res.StatusCode)
	}
}

func TestLoginFormTokenTooLargeForCookie(t *testing.T) {
	t.Parallel()
	b := setupBackend(t, Config{CookieName: "jwt"})
	tok := mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"pad": strings.Repeat("p", 4000)}), hs256(testSecret))
	res := postLogin(b, url.Values{"token": {tok}}, false)
	if res.StatusCode != http.StatusUnprocessableEntity || len(res.Cookies()) != 0 {
		t.Fatalf("status %d cookies %v, want 422 and none", res.StatusCode, res.Cookies())
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        Config
		wantCookie bool
	}{
		{"bearer only", Config{}, false},
		{"with cookie", Config{CookieName: "asyncmq_jwt"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupBackend(t, tt.cfg)
			tok := good()
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				w := httptest.NewRecorder()
				b.Logout(w, httptest.NewRequest(method, "/logout", nil))
				res := w.Result()
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
					t.Errorf("%s: status %d Location %q, want 303 /login", method, res.StatusCode, res.Header.Get("Location"))
				}
				cookies := res.Cookies()
				if tt.wantCookie {
					if len(cookies) != 1 || cookies[0].Name != "asyncmq_jwt" || cookies[0].MaxAge >= 0 || cookies[0].Value != "" || cookies[0].Path != "/" {
						t.Errorf("%s: cookies %+v, want asyncmq_jwt cleared", method, cookies)
					}
				} else if len(cookies) != 0 {
					t.Errorf("%s: cookies %v, want none", method, cookies)
				}
			}
			// Stateless: the bearer token still works after logging out.
			if _, err := b.Authenticate(bearer(tok)); err != nil {
				t.Errorf("bearer token refused after logout: %v", err)
			}
		})
	}
}

func TestAuthenticateRefusalLoggedAtDebug(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	secret, _ := GenerateSecret("HS256")
	b := setupBackend(t, Config{Secret: secret, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	b.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil))
	if logs.String() != "" {
		t.Errorf("an anonymous request was logged: %q", logs.String())
	}
	b.Authenticate(bearer(mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"exp": nil}), hs256(secret))))
	if out := logs.String(); !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "exp claim is required") {
		t.Errorf("log %q, want a debug line naming the missing exp", out)
	}
}
