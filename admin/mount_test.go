package admin_test

import (
	"net/http"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestMounting(t *testing.T) {
	t.Parallel()
	const adminUser = "X-Test-User"
	tests := []struct {
		name         string
		prefix       string
		cfg          func(*admin.Config)
		wrap         func(a *admin.Admin) http.Handler
		req          *http.Request
		wantCode     int
		wantLocation string
		wantBody     string
	}{
		{
			name: "Mount at the default prefix",
			wrap: func(a *admin.Admin) http.Handler {
				mux := http.NewServeMux()
				a.Mount(mux)
				return mux
			},
			req: request("GET", "/asyncmq/"), wantCode: http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name: "Mount: the bare prefix gets its slash",
			wrap: func(a *admin.Admin) http.Handler {
				mux := http.NewServeMux()
				a.Mount(mux)
				return mux
			},
			req: request("GET", "/asyncmq?x=1"), wantCode: http.StatusMovedPermanently,
			wantLocation: "/asyncmq/?x=1",
		},
		{
			name: "Mount leaves other paths alone",
			wrap: func(a *admin.Admin) http.Handler {
				mux := http.NewServeMux()
				a.Mount(mux)
				return mux
			},
			req: request("GET", "/other"), wantCode: http.StatusNotFound,
		},
		{
			name: "Handler outside its prefix", req: request("GET", "/asyncmqx/"), wantCode: http.StatusNotFound,
		},
		{
			name: "dashboard sees the relative path and base",
			req:  request("GET", "/asyncmq/queues/emails", adminUser, "a", "X-Test-Roles", "admin"), wantCode: 200,
			wantBody: "path=/queues/emails base=/asyncmq user=a session=on tls=false",
		},
		{
			name: "mounted at the root", prefix: "/",
			req: request("GET", "/"), wantCode: http.StatusSeeOther,
			wantLocation: "/login?next=/",
		},
		{
			name: "root login page", prefix: "/",
			req: request("GET", "/login?next=/queues"), wantCode: 200,
			wantBody: "login page at /login, next=/queues",
		},
		{
			name: "root dashboard", prefix: "/",
			req:      request("GET", "/queues", adminUser, "a", "X-Test-Roles", "admin"),
			wantCode: 200, wantBody: "path=/queues base= user=a session=on tls=false",
		},
		{
			name: "custom prefix", prefix: "/ops/",
			req: request("GET", "/ops/queues"), wantCode: http.StatusSeeOther,
			wantLocation: "/ops/login?next=/ops/queues",
		},
		{
			name: "nested under http.StripPrefix",
			wrap: func(a *admin.Admin) http.Handler {
				mux := http.NewServeMux()
				mux.Handle("/operations/", http.StripPrefix("/operations", a.Handler()))
				return mux
			},
			req: request("GET", "/operations/asyncmq/"), wantCode: http.StatusSeeOther,
			wantLocation: "/operations/asyncmq/login?next=/operations/asyncmq/",
		},
		{
			name: "nested under http.StripPrefix with a trailing slash",
			wrap: func(a *admin.Admin) http.Handler {
				return http.StripPrefix("/operations/", a.Handler())
			},
			req: request("GET", "/operations/asyncmq/queues?state=failed"), wantCode: http.StatusSeeOther,
			wantLocation: "/operations/asyncmq/login?next=/operations/asyncmq/queues%3Fstate%3Dfailed",
		},
		{
			name: "nested dashboard sees the full base",
			wrap: func(a *admin.Admin) http.Handler {
				return http.StripPrefix("/operations", a.Handler())
			},
			req:      request("GET", "/operations/asyncmq/workers", adminUser, "a", "X-Test-Roles", "admin"),
			wantCode: 200, wantBody: "path=/workers base=/operations/asyncmq user=a session=on tls=false",
		},
		{
			name: "nested login page knows its public URL",
			wrap: func(a *admin.Admin) http.Handler {
				return http.StripPrefix("/operations", a.Handler())
			},
			req:      request("GET", "/operations/asyncmq/login?next=/operations/asyncmq/queues"),
			wantCode: 200, wantBody: "login page at /operations/asyncmq/login, next=/operations/asyncmq/queues",
		},
		{
			name: "nested logout goes to the nested login",
			wrap: func(a *admin.Admin) http.Handler {
				return http.StripPrefix("/operations", a.Handler())
			},
			req: request("POST", "/operations/asyncmq/logout"), wantCode: http.StatusSeeOther,
			wantLocation: "/operations/asyncmq/login",
		},
		{
			name: "root prefix nested", prefix: "/",
			wrap: func(a *admin.Admin) http.Handler { return http.StripPrefix("/ops", a.Handler()) },
			req:  request("GET", "/ops/queues"), wantCode: http.StatusSeeOther,
			wantLocation: "/ops/login?next=/ops/queues",
		},
		{
			name: "X-Forwarded-Prefix from a trusted proxy",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.0/24"} },
			req:  request("GET", "/asyncmq/", "X-Forwarded-Prefix", "/edge/"), wantCode: http.StatusSeeOther,
			wantLocation: "/edge/asyncmq/login?next=/edge/asyncmq/",
		},
		{
			name: "X-Forwarded-Prefix and StripPrefix together",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} },
			wrap: func(a *admin.Admin) http.Handler { return http.StripPrefix("/operations", a.Handler()) },
			req:  request("GET", "/operations/asyncmq/", "X-Forwarded-Prefix", "/edge"), wantCode: http.StatusSeeOther,
			wantLocation: "/edge/operations/asyncmq/login?next=/edge/operations/asyncmq/",
		},
		{
			name: "X-Forwarded-Prefix from an untrusted peer is ignored",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"10.0.0.1"} },
			req:  request("GET", "/asyncmq/", "X-Forwarded-Prefix", "/edge"), wantCode: http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name: "X-Forwarded-Prefix pointing off-site is ignored",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} },
			req:  request("GET", "/asyncmq/", "X-Forwarded-Prefix", "//evil.example"), wantCode: http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name: "X-Forwarded-Prefix with markup is ignored",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} },
			req:  request("GET", "/asyncmq/", "X-Forwarded-Prefix", `/a"><script>`), wantCode: http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name: "X-Forwarded-Prefix with dot segments is ignored",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} },
			req:  request("GET", "/asyncmq/", "X-Forwarded-Prefix", "/a/../b"), wantCode: http.StatusSeeOther,
			wantLocation: "/asyncmq/login?next=/asyncmq/",
		},
		{
			name: "absolute-form request target",
			wrap: func(a *admin.Admin) http.Handler { return http.StripPrefix("/operations", a.Handler()) },
			req:  request("GET", "http://example.com/operations/asyncmq/"), wantCode: http.StatusSeeOther,
			wantLocation: "/operations/asyncmq/login?next=/operations/asyncmq/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *admin.Config) {
				c.URLPrefix = tt.prefix
				if tt.cfg != nil {
					tt.cfg(c)
				}
			})
			h := b.handler
			if tt.wrap != nil {
				h = tt.wrap(b.admin)
			}
			res := serve(t, h, tt.req)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%q)", res.code, tt.wantCode, res.body)
			}
			if got := res.header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
		})
	}
}

func TestMountAtRootOwnsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) { c.URLPrefix = "/" })
	mux := http.NewServeMux()
	b.admin.Mount(mux)
	res := serve(t, mux, request("GET", "/anything"))
	if res.code != http.StatusSeeOther || res.header.Get("Location") != "/login?next=/anything" {
		t.Fatalf("got %d %q", res.code, res.header.Get("Location"))
	}
}
