package admin_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name string
		cfg  admin.Config
		want string
	}{
		{"login without backend", admin.Config{EnableLogin: true},
			"admin: Config.Backend is required when EnableLogin is true"},
		{"backend without login", admin.Config{Backend: &fakeBackend{}},
			"admin: Config.Backend is set but Config.EnableLogin is false; set EnableLogin to put the dashboard behind the backend"},
		{"relative prefix", admin.Config{URLPrefix: "asyncmq"},
			`admin: Config.URLPrefix "asyncmq" must be "/" or a path like "/asyncmq" of letters, digits and "-._~"`},
		{"prefix with dot-dot", admin.Config{URLPrefix: "/a/../b"},
			`admin: Config.URLPrefix "/a/../b" must be "/" or a path like "/asyncmq" of letters, digits and "-._~"`},
		{"prefix with a query", admin.Config{URLPrefix: "/a?b"},
			`admin: Config.URLPrefix "/a?b" must be "/" or a path like "/asyncmq" of letters, digits and "-._~"`},
		{"login path", admin.Config{LoginPath: "login"},
			`admin: Config.LoginPath "login" must be a path like "/login" of letters, digits and "-._~"`},
		{"root login path", admin.Config{LoginPath: "/"},
			`admin: Config.LoginPath "/" must be a path like "/login" of letters, digits and "-._~"`},
		{"allowlist entry", admin.Config{Allowlist: []string{"/static", "assets"}},
			`admin: Config.Allowlist entry "assets" must be a path like "/static" of letters, digits and "-._~"`},
		{"allowlist root", admin.Config{Allowlist: []string{"/"}},
			`admin: Config.Allowlist entry "/" must be a path like "/static" of letters, digits and "-._~"`},
		{"allowed host with a path", admin.Config{AllowedHosts: []string{"ops.example/x"}},
			`admin: Config.AllowedHosts entry "ops.example/x" must be a host name or IP address, optionally with a port ("ops.example", "10.0.0.5:8000"), or "*"`},
		{"allowed host with a bad port", admin.Config{AllowedHosts: []string{"ops.example:http"}},
			`admin: Config.AllowedHosts entry "ops.example:http" must be a host name or IP address, optionally with a port ("ops.example", "10.0.0.5:8000"), or "*"`},
		{"empty role", admin.Config{RequiredRoles: []string{"ops", " "}},
			"admin: Config.RequiredRoles must not contain an empty role"},
		{"trusted proxy", admin.Config{TrustedProxies: []string{"proxy.local"}},
			`admin: Config.TrustedProxies: trusted proxy entry "proxy.local" is neither an IP address nor a CIDR prefix: ParseAddr("proxy.local")`},
		{"trusted proxy wildcard", admin.Config{TrustedProxies: []string{"*"}},
			`admin: Config.TrustedProxies: trusted proxy entry "*" is refused: list the proxies' addresses or CIDR prefixes (0.0.0.0/0 and ::/0 if every peer is meant)`},
		{"trusted origin", admin.Config{TrustedOrigins: []string{"https://ops.example/path"}},
			`admin: Config.TrustedOrigins entry "https://ops.example/path" must be an origin like "https://ops.example"`},
		{"CORS without origins", admin.Config{IncludeCORS: true},
			"admin: Config.CORS.AllowOrigins is required when Config.IncludeCORS is true"},
		{"CORS wildcard with credentials", admin.Config{IncludeCORS: true, CORS: admin.CORSConfig{AllowOrigins: []string{"*"}, AllowCredentials: true}},
			`admin: Config.CORS.AllowCredentials cannot be combined with the wildcard origin "*" in Config.CORS.AllowOrigins: list the origins that may send credentials`},
		{"CORS bad origin", admin.Config{IncludeCORS: true, CORS: admin.CORSConfig{AllowOrigins: []string{"ops.example"}}},
			`admin: Config.CORS.AllowOrigins entry "ops.example" must be an origin like "https://ops.example" or "*"`},
		{"CORS bad method", admin.Config{IncludeCORS: true, CORS: admin.CORSConfig{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET POST"}}},
			`admin: Config.CORS.AllowMethods entry "GET POST" is not an HTTP method`},
		{"CORS bad header", admin.Config{IncludeCORS: true, CORS: admin.CORSConfig{AllowOrigins: []string{"*"}, AllowHeaders: []string{"X:Y"}}},
			`admin: Config.CORS.AllowHeaders entry "X:Y" is not a header name`},
		{"CSP with a newline", admin.Config{ContentSecurityPolicy: "default-src 'self'\r\nX-Evil: 1"},
			"admin: Config.ContentSecurityPolicy must be a single line"},
		{"session cookie name", admin.Config{Session: admin.SessionConfig{CookieName: "a b"}},
			`admin: Config.Session.CookieName "a b" must be letters, digits and "-._~!#$&'*+^` + "`" + `|"`},
		{"prefixed cookie without Secure", admin.Config{Session: admin.SessionConfig{CookieName: "__Host-s"}},
			`admin: Config.Session.CookieName "__Host-s" needs Config.Session.Secure: browsers drop prefixed cookies that are not Secure`},
		{"negative lifetime", admin.Config{Session: admin.SessionConfig{Lifetime: -1}},
			"admin: Config.Session.IdleTimeout and Config.Session.Lifetime must not be negative"},
		{"SameSite None without Secure", admin.Config{Session: admin.SessionConfig{SameSite: http.SameSiteNoneMode}},
			"admin: Config.Session.SameSite None needs Config.Session.Secure: browsers drop SameSite=None cookies that are not Secure"},
		{"session backend without sessions", admin.Config{EnableLogin: true, Backend: &sessionBackend{}, IncludeSession: new(false)},
			"admin: Config.IncludeSession must stay on: the *admin_test.sessionBackend backend keeps logins in the session"},
		{"route nil handler", admin.Config{EnableLogin: true, Backend: &fakeBackend{routes: []admin.Route{{Pattern: "GET /cb"}}}},
			`admin: Backend route "GET /cb" has a nil Handler`},
		{"route with host", admin.Config{EnableLogin: true, Backend: &fakeBackend{routes: []admin.Route{{Pattern: "evil.example/cb", Handler: ok}}}},
			`admin: Backend route "evil.example/cb" must be a path pattern relative to the prefix, like "GET /oauth/callback"`},
		{"route subtree", admin.Config{EnableLogin: true, Backend: &fakeBackend{routes: []admin.Route{{Pattern: "/oauth/", Handler: ok}}}},
			`admin: Backend route "/oauth/" must name an exact path, not a subtree ending in "/"`},
		{"route shadowing login", admin.Config{EnableLogin: true, Backend: &fakeBackend{routes: []admin.Route{{Pattern: "POST /login", Handler: ok}}}},
			`admin: Backend route "POST /login" collides with the admin's own /login route`},
		{"route conflict", admin.Config{EnableLogin: true, Backend: &fakeBackend{routes: []admin.Route{{Pattern: "/cb", Handler: ok}, {Pattern: "/cb", Handler: ok}}}},
			`admin: Backend route "/cb": pattern "/cb" (registered at`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := admin.New(tt.cfg)
			if err == nil {
				t.Fatalf("New succeeded: %v", a)
			}
			// Some messages end with the standard library's own words; the part naming
			// the setting must be exact.
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error = %q\n want %q", got, tt.want)
			}
			if !errors.Is(err, admin.ErrInvalidConfig) {
				t.Errorf("error does not match ErrInvalidConfig")
			}
		})
	}
}

func TestZeroConfigIsClosedAndWorks(t *testing.T) {
	t.Parallel()
	a, err := admin.New(admin.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res := serve(t, a.Handler(), request("GET", "/asyncmq/"))
	if res.code != http.StatusOK || !contains(res.body, "<title>Dashboard</title>") {
		t.Fatalf("built-in page: %d %q", res.code, res.body)
	}
	if res.header.Get("Content-Security-Policy") == "" {
		t.Error("zero Config sends no security headers")
	}
	res = serve(t, a.Handler(), request("POST", "/asyncmq/", "Origin", "https://evil.example"))
	if res.code != http.StatusForbidden {
		t.Errorf("zero Config accepts a cross-origin POST: %d", res.code)
	}
	if res := serve(t, a.Handler(), request("GET", "/asyncmq/nope")); res.code != http.StatusNotFound {
		t.Errorf("built-in page at an unknown path: %d", res.code)
	}
}
