package admin_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestGate(t *testing.T) {
	t.Parallel()
	const adminClaims = `{"is_admin": true}`
	tests := []struct {
		name         string
		cfg          func(*admin.Config)
		req          *http.Request
		wantCode     int
		wantLocation string
		wantHX       string
		wantBody     string
	}{
		{
			name:         "no credentials redirects to login with next",
			req:          request("GET", "/asyncmq/"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name:         "next keeps the query as one value",
			req:          request("GET", "/asyncmq/queues/emails?state=failed&page=2"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/queues/emails%3Fstate%3Dfailed%26page%3D2",
		},
		{
			name:         "next keeps escapes escaped",
			req:          request("GET", "/asyncmq/jobs/a%2Fb%20c"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/jobs/a%252Fb%2520c",
		},
		{
			name:     "HTMX gets 401 and HX-Redirect",
			req:      request("GET", "/asyncmq/queues", "HX-Request", "true"),
			wantCode: http.StatusUnauthorized,
			wantHX:   "/asyncmq/login?next=/asyncmq/queues",
			wantBody: "Authentication required",
		},
		{
			name:         "HX-Request other than true is a page load",
			req:          request("GET", "/asyncmq/", "HX-Request", "false"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name:         "refused credentials are no credentials",
			req:          request("GET", "/asyncmq/", "X-Test-User", "bad"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name:         "refused credentials over HTMX",
			req:          request("GET", "/asyncmq/x", "X-Test-User", "bad", "HX-Request", "true"),
			wantCode:     http.StatusUnauthorized,
			wantHX:       "/asyncmq/login?next=/asyncmq/x",
			wantBody:     "Authentication required",
			wantLocation: "",
		},
		{
			name:     "valid admin passes",
			req:      request("GET", "/asyncmq/queues", "X-Test-User", "alice", "X-Test-Claims", adminClaims),
			wantCode: http.StatusOK,
			wantBody: "path=/queues base=/asyncmq user=alice session=on tls=false",
		},
		{
			name:     "admin role passes",
			req:      request("GET", "/asyncmq/", "X-Test-User", "alice", "X-Test-Roles", "viewer,admin"),
			wantCode: http.StatusOK,
		},
		{
			name:     "asyncmq:admin role passes",
			req:      request("GET", "/asyncmq/", "X-Test-User", "alice", "X-Test-Roles", "asyncmq:admin"),
			wantCode: http.StatusOK,
		},
		{
			name:     "user without admin is refused",
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob"),
			wantCode: http.StatusForbidden,
			wantBody: "Dashboard user is not authorized",
		},
		{
			name:     "mapping roles with an admin key are not admin",
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob", "X-Test-Claims", `{"roles": {"admin": false}}`),
			wantCode: http.StatusForbidden,
			wantBody: "Dashboard user is not authorized",
		},
		{
			name:     "RequireAdmin off admits any user",
			cfg:      func(c *admin.Config) { c.RequireAdmin = new(false) },
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob"),
			wantCode: http.StatusOK,
			wantBody: "path=/ base=/asyncmq user=bob session=on tls=false",
		},
		{
			name:     "required role held",
			cfg:      func(c *admin.Config) { c.RequireAdmin = new(false); c.RequiredRoles = []string{"ops"} },
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob", "X-Test-Roles", "viewer,ops"),
			wantCode: http.StatusOK,
		},
		{
			name:     "required role held with asyncmq prefix",
			cfg:      func(c *admin.Config) { c.RequireAdmin = new(false); c.RequiredRoles = []string{"ops"} },
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob", "X-Test-Roles", "asyncmq:ops"),
			wantCode: http.StatusOK,
		},
		{
			name:     "any one required role is enough",
			cfg:      func(c *admin.Config) { c.RequireAdmin = new(false); c.RequiredRoles = []string{"ops", "sre"} },
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob", "X-Test-Roles", "sre"),
			wantCode: http.StatusOK,
		},
		{
			name:     "required role missing",
			cfg:      func(c *admin.Config) { c.RequireAdmin = new(false); c.RequiredRoles = []string{"ops"} },
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob", "X-Test-Roles", "viewer"),
			wantCode: http.StatusForbidden,
			wantBody: "Dashboard user is not authorized",
		},
		{
			name:     "required role missing while admin is required",
			cfg:      func(c *admin.Config) { c.RequiredRoles = []string{"ops"} },
			req:      request("GET", "/asyncmq/", "X-Test-User", "bob", "X-Test-Roles", "ops"),
			wantCode: http.StatusForbidden,
			wantBody: "Dashboard user is not authorized",
		},
		{
			name:     "admin satisfies required roles",
			cfg:      func(c *admin.Config) { c.RequireAdmin = new(false); c.RequiredRoles = []string{"ops"} },
			req:      request("GET", "/asyncmq/", "X-Test-User", "root", "X-Test-Claims", adminClaims),
			wantCode: http.StatusOK,
		},
		{
			name: "backend failure is 503, not a redirect",
			cfg: func(c *admin.Config) {
				c.Backend = &fakeBackend{err: errors.New("dial tcp 10.0.0.5:5432: connection refused")}
			},
			req:      request("GET", "/asyncmq/"),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "Authentication backend unavailable",
		},
		{
			name:     "backend failure over HTMX is 503 too",
			cfg:      func(c *admin.Config) { c.Backend = &fakeBackend{err: errors.New("db down")} },
			req:      request("GET", "/asyncmq/", "HX-Request", "true"),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "Authentication backend unavailable",
		},
		{
			name: "wrapped ErrNoCredentials is no credentials",
			cfg: func(c *admin.Config) {
				c.Backend = &fakeBackend{err: fmt.Errorf("token expired: %w", admin.ErrNoCredentials)}
			},
			req:          request("GET", "/asyncmq/"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name:         "custom LoginPath",
			cfg:          func(c *admin.Config) { c.LoginPath = "/signin" },
			req:          request("GET", "/asyncmq/workers"),
			wantCode:     http.StatusSeeOther,
			wantLocation: "/asyncmq/signin?next=/asyncmq/workers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			res := serve(t, b.handler, tt.req)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (body %q)", res.code, tt.wantCode, res.body)
			}
			if got := res.header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
			if got := res.header.Get("HX-Redirect"); got != tt.wantHX {
				t.Errorf("HX-Redirect = %q, want %q", got, tt.wantHX)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
		})
	}
}

func TestGateAdminClaimShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		isAdmin string
		want    int
	}{
		{`true`, http.StatusOK},
		{`"true"`, http.StatusOK},
		{`"1"`, http.StatusOK},
		{`"yes"`, http.StatusOK},
		{`"on"`, http.StatusOK},
		{`" TRUE "`, http.StatusOK},
		{`false`, http.StatusForbidden},
		{`"false"`, http.StatusForbidden},
		{`1`, http.StatusForbidden},
		{`["true"]`, http.StatusForbidden},
		{`{"value": true}`, http.StatusForbidden},
		{`null`, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.isAdmin, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			res := serve(t, b.handler, request("GET", "/asyncmq/",
				"X-Test-User", "carol", "X-Test-Claims", `{"is_admin": `+tt.isAdmin+`}`))
			if res.code != tt.want {
				t.Fatalf("is_admin %s: status = %d, want %d", tt.isAdmin, res.code, tt.want)
			}
			if tt.want == http.StatusForbidden && res.body != "Dashboard user is not authorized" {
				t.Errorf("body = %q", res.body)
			}
		})
	}
}

func TestGateLogsBackendFailureWithoutCredentials(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	b := setup(t, func(c *admin.Config) {
		c.Backend = &fakeBackend{err: errors.New("users table unreachable")}
		c.Logger = newTextLogger(&logs)
	})
	res := serve(t, b.handler, request("GET", "/asyncmq/queues",
		"Authorization", "Bearer secret-token-value", "Cookie", "asyncmq_session=secret-cookie"))
	if res.code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d", res.code)
	}
	out := logs.String()
	if !strings.Contains(out, "users table unreachable") || !strings.Contains(out, "/asyncmq/queues") {
		t.Errorf("log lacks the failure: %s", out)
	}
	if strings.Contains(out, "secret-token-value") || strings.Contains(out, "secret-cookie") {
		t.Errorf("log leaks credentials: %s", out)
	}
}

func TestLoginDisabledAdmitsWithoutUser(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) { c.EnableLogin = false; c.Backend = nil })
	res := serve(t, b.handler, request("GET", "/asyncmq/queues"))
	if res.code != http.StatusOK || res.body != "path=/queues base=/asyncmq user=- session=on tls=false" {
		t.Fatalf("got %d %q", res.code, res.body)
	}
	// With login off there is no login route: /login is the dashboard's business.
	res = serve(t, b.handler, request("GET", "/asyncmq/login"))
	if res.body != "path=/login base=/asyncmq user=- session=on tls=false" {
		t.Fatalf("login route with login off: %d %q", res.code, res.body)
	}
}

func TestAllowlist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		allowlist []string
		path      string
		wantCode  int
	}{
		{name: "static file", path: "/asyncmq/static/app.css", wantCode: http.StatusOK},
		{name: "static itself", path: "/asyncmq/static", wantCode: http.StatusOK},
		{name: "assets", path: "/asyncmq/assets/logo.svg", wantCode: http.StatusOK},
		{name: "prefix of a word is not a match", path: "/asyncmq/staticfiles", wantCode: http.StatusSeeOther},
		{name: "dot-dot out of static", path: "/asyncmq/static/../queues", wantCode: http.StatusSeeOther},
		{name: "encoded dot-dot out of static", path: "/asyncmq/static/%2e%2e/queues", wantCode: http.StatusSeeOther},
		{name: "double slash", path: "/asyncmq/static//x", wantCode: http.StatusSeeOther},
		{name: "custom entry", allowlist: []string{"/public"}, path: "/asyncmq/public/a", wantCode: http.StatusOK},
		{name: "custom list replaces default", allowlist: []string{"/public"}, path: "/asyncmq/static/a", wantCode: http.StatusSeeOther},
		{name: "empty list gates everything", allowlist: []string{}, path: "/asyncmq/static/a", wantCode: http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *admin.Config) { c.Allowlist = tt.allowlist })
			res := serve(t, b.handler, request("GET", tt.path))
			if res.code != tt.wantCode {
				t.Fatalf("GET %s: status = %d, want %d (%q)", tt.path, res.code, tt.wantCode, res.body)
			}
			if tt.wantCode == http.StatusOK && !strings.Contains(res.body, "user=-") {
				t.Errorf("allowlisted request carried a user: %q", res.body)
			}
		})
	}
}

func TestContextWithUserOverridesTheGate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) {
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before := admin.UserFromContext(r.Context()).ID
			ctx := admin.ContextWithUser(r.Context(), &admin.User{ID: "impersonated"})
			fmt.Fprintf(w, "%s then %s", before, admin.UserFromContext(ctx).ID)
		})
	})
	res := serve(t, b.handler, request("GET", "/asyncmq/", "X-Test-User", "alice", "X-Test-Roles", "admin"))
	if res.body != "alice then impersonated" {
		t.Fatalf("body = %q", res.body)
	}
	if u := admin.UserFromContext(t.Context()); u != nil {
		t.Fatalf("UserFromContext outside the admin = %v", u)
	}
}
