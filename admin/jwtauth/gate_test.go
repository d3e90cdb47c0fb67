package jwtauth

// Through the real admin gate, mounted at /asyncmq: the behaviours of AsyncMQ's
// tests/dashboard/backend/test_jwt.py and of the JWT backend's documentation.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

type gateFixture struct {
	h http.Handler
	b *Backend
}

func setupGate(t testing.TB, cfg Config) *gateFixture {
	t.Helper()
	b := setupBackend(t, cfg)
	a, err := admin.New(admin.Config{
		EnableLogin: true,
		Backend:     b,
		Logger:      discard,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := admin.UserFromContext(r.Context())
			io.WriteString(w, "dashboard for "+u.ID)
		}),
	})
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	return &gateFixture{h: a.Handler(), b: b}
}

func (g *gateFixture) do(r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w.Result()
}

func (g *gateFixture) get(path, token string) *http.Response {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return g.do(r)
}

func adminToken(extra map[string]any) string {
	c := map[string]any{"is_admin": true}
	for k, v := range extra {
		c[k] = v
	}
	return mint(`{"alg":"HS256","typ":"JWT"}`, claimsJSON(c), hs256(testSecret))
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGate(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{Audience: "asyncmq-admin", Issuer: "https://issuer.example"})
	valid := map[string]any{"aud": "asyncmq-admin", "iss": "https://issuer.example"}
	with := func(over map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range valid {
			m[k] = v
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	const toLogin = "/asyncmq/login?next=/asyncmq/queues"
	tests := []struct {
		name     string
		token    string
		wantCode int
		wantLoc  string
		wantBody string
	}{
		{"no header", "", http.StatusSeeOther, toLogin, ""},
		{"valid admin token", adminToken(valid), http.StatusOK, "", "dashboard for alice"},
		{"garbage", "not-a-token", http.StatusSeeOther, toLogin, ""},
		{"expired", adminToken(with(map[string]any{"exp": testNow.Add(-time.Second).Unix()})), http.StatusSeeOther, toLogin, ""},
		{"wrong audience", adminToken(with(map[string]any{"aud": "other"})), http.StatusSeeOther, toLogin, ""},
		{"wrong issuer", adminToken(with(map[string]any{"iss": "https://evil.example"})), http.StatusSeeOther, toLogin, ""},
		{"bad signature", mint(`{"alg":"HS256"}`, claimsJSON(with(map[string]any{"is_admin": true})), hs256([]byte(strings.Repeat("x", 32)))), http.StatusSeeOther, toLogin, ""},
		{"alg none", strings.TrimSuffix(mint(`{"alg":"none"}`, claimsJSON(with(map[string]any{"is_admin": true})), noSig), "."), http.StatusSeeOther, toLogin, ""},
		{"no admin claim", mint(`{"alg":"HS256"}`, claimsJSON(valid), hs256(testSecret)), http.StatusForbidden, "", "Dashboard user is not authorized"},
		{"is_admin list", adminToken(with(map[string]any{"is_admin": []string{"true"}})), http.StatusForbidden, "", "Dashboard user is not authorized"},
		{"is_admin object", adminToken(with(map[string]any{"is_admin": map[string]any{"value": true}})), http.StatusForbidden, "", "Dashboard user is not authorized"},
		{"roles mapping with admin key", mint(`{"alg":"HS256"}`, claimsJSON(with(map[string]any{"roles": map[string]any{"admin": false}})), hs256(testSecret)), http.StatusForbidden, "", "Dashboard user is not authorized"},
		{"admin role", mint(`{"alg":"HS256"}`, claimsJSON(with(map[string]any{"roles": []string{"asyncmq:admin"}})), hs256(testSecret)), http.StatusOK, "", "dashboard for alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := g.get("/asyncmq/queues", tt.token)
			if res.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantCode)
			}
			if loc := res.Header.Get("Location"); loc != tt.wantLoc {
				t.Errorf("Location %q, want %q", loc, tt.wantLoc)
			}
			if b := body(t, res); !strings.Contains(b, tt.wantBody) {
				t.Errorf("body %q, want %q", b, tt.wantBody)
			}
		})
	}
}

func TestGateTokenInURLIgnored(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{})
	res := g.get("/asyncmq/?access_token="+adminToken(nil), "")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", res.StatusCode)
	}
}

func TestGateHTMX(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{})
	r := httptest.NewRequest(http.MethodGet, "/asyncmq/jobs", nil)
	r.Header.Set("HX-Request", "true")
	r.Header.Set("Authorization", "Bearer x"+adminToken(nil))
	res := g.do(r)
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("HX-Redirect") != "/asyncmq/login?next=/asyncmq/jobs" {
		t.Fatalf("status %d HX-Redirect %q", res.StatusCode, res.Header.Get("HX-Redirect"))
	}
}

func TestGateLoginAndLogout(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{})
	login := g.get("/asyncmq/login?next=/asyncmq/queues", "")
	if page := body(t, login); login.StatusCode != http.StatusOK || !strings.Contains(page, "Authorization: Bearer &lt;token&gt;") {
		t.Fatalf("login page %d:\n%s", login.StatusCode, page)
	}
	if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("login page CSP %q", csp)
	}

	tok := adminToken(nil)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := httptest.NewRequest(method, "/asyncmq/logout", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		res := g.do(r)
		// Mount-aware, unlike AsyncMQ's backend, which redirects to "/login".
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/asyncmq/login" {
			t.Errorf("%s logout: %d %q, want 303 /asyncmq/login", method, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// Stateless: the bearer token still opens the dashboard.
	if res := g.get("/asyncmq/", tok); res.StatusCode != http.StatusOK {
		t.Errorf("after logout: status %d, want 200", res.StatusCode)
	}
}

func TestGateHeaderBeforeCookie(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{CookieName: "asyncmq_jwt"})
	viewer := mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"sub": "viewer"}), hs256(testSecret))
	tests := []struct {
		name     string
		header   string
		cookie   string
		wantCode int
	}{
		{"cookie alone", "", adminToken(nil), http.StatusOK},
		{"cookie with Bearer prefix", "", "Bearer " + adminToken(nil), http.StatusOK},
		{"header wins over cookie: non-admin header", viewer, adminToken(nil), http.StatusForbidden},
		{"header wins over cookie: bad header", "garbage", adminToken(nil), http.StatusSeeOther},
		{"header admin, cookie garbage", adminToken(nil), "garbage", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/asyncmq/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", "Bearer "+tt.header)
			}
			r.AddCookie(&http.Cookie{Name: "asyncmq_jwt", Value: tt.cookie, Quoted: strings.Contains(tt.cookie, " ")})
			if res := g.do(r); res.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantCode)
			}
		})
	}
}

func TestGateCookieLoginForm(t *testing.T) {
	t.Parallel()
	tok := adminToken(nil)
	tests := []struct {
		name    string
		next    string
		wantLoc string
	}{
		{"safe next", "/asyncmq/queues?state=failed", "/asyncmq/queues?state=failed"},
		{"next outside the dashboard", "/other", "/asyncmq/"},
		{"protocol-relative next", "//evil.example/asyncmq/", "/asyncmq/"},
		{"backslash next", `/\evil.example`, "/asyncmq/"},
		{"absolute next", "https://evil.example/asyncmq/", "/asyncmq/"},
		{"encoded slash next", "/asyncmq/%2F%2Fevil.example", "/asyncmq/"},
		{"no next", "", "/asyncmq/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := setupGate(t, Config{CookieName: "asyncmq_jwt"})
			page := body(t, g.get("/asyncmq/login?next="+url.QueryEscape(tt.next), ""))
			if !strings.Contains(page, `action="/asyncmq/login"`) {
				t.Fatalf("form does not post to the mounted login URL:\n%s", page)
			}
			form := url.Values{"token": {tok}, "next": {tt.next}}
			r := httptest.NewRequest(http.MethodPost, "https://ops.example/asyncmq/login", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", "https://ops.example")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			res := g.do(r)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tt.wantLoc {
				t.Fatalf("status %d Location %q, want 303 %q", res.StatusCode, res.Header.Get("Location"), tt.wantLoc)
			}
			var c *http.Cookie
			for _, k := range res.Cookies() {
				if k.Name == "asyncmq_jwt" {
					c = k
				}
			}
			if c == nil {
				t.Fatalf("no token cookie in %v", res.Cookies())
			}
			if c.Value != tok || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/asyncmq/" || !c.Expires.Equal(testNow.Add(time.Hour)) {
				t.Errorf("cookie %+v", c)
			}

			// The cookie opens the dashboard, and logout clears it on the same path.
			next := httptest.NewRequest(http.MethodGet, "https://ops.example/asyncmq/", nil)
			next.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			if res := g.do(next); res.StatusCode != http.StatusOK {
				t.Fatalf("dashboard with the cookie: %d", res.StatusCode)
			}
			out := g.do(httptest.NewRequest(http.MethodGet, "https://ops.example/asyncmq/logout", nil))
			cleared := false
			for _, k := range out.Cookies() {
				cleared = cleared || k.Name == "asyncmq_jwt" && k.MaxAge < 0 && k.Path == "/asyncmq/"
			}
			if !cleared {
				t.Errorf("logout cookies %v, want asyncmq_jwt cleared on /asyncmq/", out.Cookies())
			}
		})
	}
}

func TestGateCookieLoginRefusesBadToken(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{CookieName: "asyncmq_jwt"})
	form := url.Values{"token": {"garbage"}, "next": {"/asyncmq/jobs"}}
	r := httptest.NewRequest(http.MethodPost, "/asyncmq/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := g.do(r)
	page := body(t, res)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "That token was not accepted.") {
		t.Fatalf("status %d:\n%s", res.StatusCode, page)
	}
	for _, c := range res.Cookies() {
		if c.Name == "asyncmq_jwt" {
			t.Errorf("token cookie set after a refused login: %v", c)
		}
	}
}

func TestGateCrossSiteLoginPostRefused(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{CookieName: "asyncmq_jwt"})
	form := url.Values{"token": {adminToken(nil)}}
	r := httptest.NewRequest(http.MethodPost, "https://ops.example/asyncmq/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	res := g.do(r)
	// Login CSRF (planting the attacker's token in the victim's browser) is stopped by the
	// admin's cross-origin protection before the backend runs.
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == "asyncmq_jwt" {
			t.Errorf("token cookie set by a cross-site login: %v", c)
		}
	}
}

func TestGateMountedUnderOuterPrefix(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{CookieName: "asyncmq_jwt"})
	outer := http.StripPrefix("/operations", g.h)
	w := httptest.NewRecorder()
	outer.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/operations/asyncmq/logout", nil))
	res := w.Result()
	if res.Header.Get("Location") != "/operations/asyncmq/login" {
		t.Errorf("logout Location %q, want /operations/asyncmq/login", res.Header.Get("Location"))
	}
	if c := res.Cookies(); len(c) == 0 || c[0].Path != "/operations/asyncmq/" {
		t.Errorf("logout cookies %v, want the cookie cleared on /operations/asyncmq/", c)
	}
}

// TestLogoutRefusesCrossSiteGET reproduces issue 11 item 7: GET /logout cleared the token cookie
// even when another site's link or image sent the browser there.
func TestLogoutRefusesCrossSiteGET(t *testing.T) {
	t.Parallel()
	g := setupGate(t, Config{CookieName: "asyncmq_jwt"})
	logout := func(method string, hdr ...string) *http.Response {
		r := httptest.NewRequest(method, "/asyncmq/logout", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		r.AddCookie(&http.Cookie{Name: "asyncmq_jwt", Value: adminToken(nil)})
		return g.do(r)
	}
	cleared := func(res *http.Response) bool {
		for _, c := range res.Cookies() {
			if c.Name == "asyncmq_jwt" && c.MaxAge < 0 {
				return true
			}
		}
		return false
	}
	for _, site := range []string{"cross-site", "same-site"} {
		res := logout(http.MethodGet, "Sec-Fetch-Site", site)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || cleared(res) || !strings.Contains(string(body), `action="/asyncmq/logout"`) {
			t.Errorf("%s GET: %d cleared=%t, want 200 with a confirmation form and the cookie kept", site, res.StatusCode, cleared(res))
		}
	}
	// The confirmation's POST from another site is stopped by the admin's CSRF protection.
	if res := logout(http.MethodPost, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); res.StatusCode != http.StatusForbidden || cleared(res) {
		t.Errorf("cross-site POST: %d cleared=%t, want 403 and the cookie kept", res.StatusCode, cleared(res))
	}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Site", "none"}, nil} {
		res := logout(http.MethodGet, hdr...)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/asyncmq/login" || !cleared(res) {
			t.Errorf("GET with %q: %d Location %q cleared=%t, want 303 to the login page and the cookie cleared",
				hdr, res.StatusCode, res.Header.Get("Location"), cleared(res))
		}
	}
	if res := logout(http.MethodPost, "Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"); res.StatusCode != http.StatusSeeOther || !cleared(res) {
		t.Errorf("same-origin POST: %d cleared=%t, want 303 and the cookie cleared", res.StatusCode, cleared(res))
	}
	if res := logout(http.MethodDelete); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d, want 405", res.StatusCode)
	}
}
