package admin_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

func TestLoginLogoutAndBackendRoutes(t *testing.T) {
	t.Parallel()
	callback := admin.Route{
		Pattern: "GET /oauth/{provider}/callback",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "callback %s user=%v", r.PathValue("provider"), admin.UserFromContext(r.Context()) != nil)
		}),
	}
	withRoutes := func(c *admin.Config) { c.Backend = &fakeBackend{routes: []admin.Route{callback}} }
	tests := []struct {
		name     string
		cfg      func(*admin.Config)
		req      *http.Request
		wantCode int
		wantBody string
		wantLoc  string
	}{
		{name: "GET login", req: request("GET", "/asyncmq/login?next=/asyncmq/queues"), wantCode: 200,
			wantBody: "login page at /asyncmq/login, next=/asyncmq/queues"},
		{name: "login ignores an off-site next", req: request("GET", "/asyncmq/login?next=//evil.example"), wantCode: 200,
			wantBody: "login page at /asyncmq/login, next=/asyncmq/"},
		{name: "PUT login", req: request("PUT", "/asyncmq/login"), wantCode: http.StatusMethodNotAllowed},
		{name: "GET logout", req: request("GET", "/asyncmq/logout"), wantCode: http.StatusSeeOther, wantLoc: "/asyncmq/login"},
		{name: "POST logout", req: request("POST", "/asyncmq/logout"), wantCode: http.StatusSeeOther, wantLoc: "/asyncmq/login"},
		{name: "custom login path", cfg: func(c *admin.Config) { c.LoginPath = "/signin" },
			req: request("GET", "/asyncmq/signin"), wantCode: 200, wantBody: "login page at /asyncmq/signin, next=/asyncmq/"},
		{name: "default login path gated when moved", cfg: func(c *admin.Config) { c.LoginPath = "/signin"; c.Allowlist = []string{} },
			req: request("GET", "/asyncmq/login"), wantCode: http.StatusSeeOther, wantLoc: "/asyncmq/signin?next=/asyncmq/login"},
		{name: "backend route outside the gate", cfg: withRoutes,
			req: request("GET", "/asyncmq/oauth/github/callback"), wantCode: 200, wantBody: "callback github user=false"},
		{name: "backend route wrong method is gated", cfg: withRoutes,
			req: request("POST", "/asyncmq/oauth/github/callback"), wantCode: http.StatusSeeOther,
			wantLoc: "/asyncmq/login?next=/asyncmq/oauth/github/callback"},
		{name: "backend route unclean path is gated", cfg: withRoutes,
			req: request("GET", "/asyncmq/x/../oauth/github/callback"), wantCode: http.StatusSeeOther,
			wantLoc: "/asyncmq/login?next=/asyncmq/x/../oauth/github/callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			res := serve(t, b.handler, tt.req)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%q)", res.code, tt.wantCode, res.body)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
			if got := res.header.Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %q, want %q", got, tt.wantLoc)
			}
		})
	}
}

func TestSessionLoginFlow(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	form := url.Values{"user": {"alice"}, "next": {"/asyncmq/queues?state=failed"}}
	r := request("POST", "/asyncmq/login", "Origin", "http://example.com", "Content-Type", "application/x-www-form-urlencoded")
	r = withBody(r, form.Encode())
	res := serve(t, b.handler, r)
	if res.code != http.StatusSeeOther || res.header.Get("Location") != "/asyncmq/queues?state=failed" {
		t.Fatalf("login: %d Location %q", res.code, res.header.Get("Location"))
	}
	cookie := sessionCookie(t, res, "asyncmq_session")
	// Issue 11 item 10: the cookie was Path=/ and SameSite=Lax.
	if !cookie.HttpOnly || cookie.Secure || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/asyncmq/" {
		t.Errorf("cookie attributes: %+v, want HttpOnly, SameSite=Strict, Path=/asyncmq/", cookie)
	}
	if cookie.MaxAge <= 0 || cookie.MaxAge > int((30*60)+1) {
		t.Errorf("cookie MaxAge = %d, want the 30 minute idle timeout", cookie.MaxAge)
	}

	r = request("GET", "/asyncmq/queues")
	r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if res := serve(t, b.handler, r); res.code != http.StatusOK || !strings.Contains(res.body, "user=alice") {
		t.Fatalf("with session: %d %q", res.code, res.body)
	}

	r = request("POST", "/asyncmq/logout", "Origin", "http://example.com")
	r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if res := serve(t, b.handler, r); res.code != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.code)
	}

	r = request("GET", "/asyncmq/queues")
	r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if res := serve(t, b.handler, r); res.code != http.StatusSeeOther {
		t.Fatalf("after logout the old cookie still works: %d", res.code)
	}
}

// The cookie follows the public mount path, outer prefixes included, and is cleared there too.
func TestSessionCookieScopedToMount(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} })
	h := http.StripPrefix("/outer", b.handler)
	r := withBody(request("POST", "/outer/asyncmq/login", "Content-Type", "application/x-www-form-urlencoded",
		"X-Forwarded-Prefix", "/ops"), "user=alice")
	res := serve(t, h, r)
	cookie := sessionCookie(t, res, "asyncmq_session")
	if cookie.Path != "/ops/outer/asyncmq/" {
		t.Fatalf("login cookie Path = %q, want /ops/outer/asyncmq/", cookie.Path)
	}
	r = request("POST", "/outer/asyncmq/logout", "X-Forwarded-Prefix", "/ops")
	r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	res = serve(t, h, r)
	if c := sessionCookie(t, res, "asyncmq_session"); c.Path != "/ops/outer/asyncmq/" || c.MaxAge >= 0 {
		t.Fatalf("logout cookie %+v, want an expired cookie at /ops/outer/asyncmq/", c)
	}
	if got := res.header.Values("Set-Cookie"); len(got) != 1 {
		t.Fatalf("Set-Cookie = %q, want one", got)
	}
}

func TestSessionCookieOverTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} })
	form := url.Values{"user": {"alice"}}
	r := withBody(request("POST", "/asyncmq/login", "Content-Type", "application/x-www-form-urlencoded",
		"X-Forwarded-Proto", "https"), form.Encode())
	res := serve(t, b.handler, r)
	cookie := sessionCookie(t, res, "__Host-asyncmq_session")
	if !cookie.Secure || cookie.Path != "/" || cookie.Domain != "" {
		t.Errorf("__Host- cookie attributes: %+v", cookie)
	}
	// The TLS cookie is the session over TLS; the plain name is not read there.
	r = request("GET", "/asyncmq/", "X-Forwarded-Proto", "https")
	r.AddCookie(&http.Cookie{Name: "__Host-asyncmq_session", Value: cookie.Value})
	if res := serve(t, b.handler, r); res.code != http.StatusOK || !strings.Contains(res.body, "tls=true") {
		t.Fatalf("TLS session: %d %q", res.code, res.body)
	}
	r = request("GET", "/asyncmq/", "X-Forwarded-Proto", "https")
	r.AddCookie(&http.Cookie{Name: "asyncmq_session", Value: cookie.Value})
	if res := serve(t, b.handler, r); res.code != http.StatusSeeOther {
		t.Fatalf("plain cookie name accepted over TLS: %d", res.code)
	}
}

func TestSessionSettings(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) {
		c.Session = admin.SessionConfig{CookieName: "ops", IdleTimeout: 0, Lifetime: 0, SameSite: http.SameSiteStrictMode, Secure: true}
	})
	r := withBody(request("POST", "/asyncmq/login", "Content-Type", "application/x-www-form-urlencoded"), "user=bob")
	cookie := sessionCookie(t, serve(t, b.handler, r), "ops")
	if !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie attributes: %+v", cookie)
	}
}

type failingStore struct{}

func (failingStore) Find(string) ([]byte, bool, error) {
	return nil, false, errors.New("dial postgres://app:hunter2@db: refused")
}
func (failingStore) Commit(string, []byte, time.Time) error { return errors.New("down") }
func (failingStore) Delete(string) error                    { return errors.New("down") }

func TestSessionStoreFailureIs503(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	b := setup(t, func(c *admin.Config) {
		c.Session.Store = failingStore{}
		c.Logger = newTextLogger(&logs)
	})
	r := request("GET", "/asyncmq/")
	r.AddCookie(&http.Cookie{Name: "asyncmq_session", Value: "some-token"})
	res := serve(t, b.handler, r)
	if res.code != http.StatusServiceUnavailable || res.body != "Session store unavailable" {
		t.Fatalf("got %d %q", res.code, res.body)
	}
	if !strings.Contains(logs.String(), "session store failed") {
		t.Errorf("failure not logged: %s", logs.String())
	}
}

func TestSessionsOff(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) { c.IncludeSession = new(false) })
	res := serve(t, b.handler, request("GET", "/asyncmq/", "X-Test-User", "a", "X-Test-Roles", "admin"))
	if res.code != http.StatusOK || !strings.Contains(res.body, "session=off") {
		t.Fatalf("got %d %q", res.code, res.body)
	}
	if len(res.header.Values("Set-Cookie")) != 0 {
		t.Errorf("cookie set with sessions off: %q", res.header.Values("Set-Cookie"))
	}
}
