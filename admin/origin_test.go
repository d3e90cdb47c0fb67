package admin_test

import (
	"net/http"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestCrossOriginRefusals(t *testing.T) {
	t.Parallel()
	const user, adminClaims = "X-Test-User", "X-Test-Claims"
	authed := []string{user, "alice", adminClaims, `{"is_admin": true}`}
	with := func(extra ...string) []string { return append(append([]string{}, authed...), extra...) }
	trusted := func(c *admin.Config) { c.TrustedProxies = []string{"10.0.0.0/24"} }

	tests := []struct {
		name     string
		cfg      func(*admin.Config)
		method   string
		path     string
		remote   string
		host     string
		headers  []string
		wantCode int
	}{
		{name: "same origin POST", method: "POST", headers: with("Origin", "http://example.com"), wantCode: http.StatusOK},
		{name: "same origin with Sec-Fetch-Site", method: "POST", headers: with("Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"), wantCode: http.StatusOK},
		{name: "origin compared case-insensitively with default port", method: "POST", host: "Example.COM:80", headers: with("Origin", "http://example.com"), wantCode: http.StatusOK},
		{name: "foreign origin", method: "POST", headers: with("Origin", "https://evil.example"), wantCode: http.StatusForbidden},
		{name: "foreign origin DELETE", method: "DELETE", headers: with("Origin", "https://evil.example"), wantCode: http.StatusForbidden},
		{name: "foreign origin PATCH", method: "PATCH", headers: with("Origin", "https://evil.example"), wantCode: http.StatusForbidden},
		{name: "scheme mismatch", method: "POST", headers: with("Origin", "https://example.com"), wantCode: http.StatusForbidden},
		{name: "port mismatch", method: "POST", headers: with("Origin", "http://example.com:8080"), wantCode: http.StatusForbidden},
		{name: "null origin", method: "POST", headers: with("Origin", "null"), wantCode: http.StatusForbidden},
		{name: "missing origin", method: "POST", headers: authed, wantCode: http.StatusForbidden},
		{name: "missing origin PUT", method: "PUT", headers: authed, wantCode: http.StatusForbidden},
		{name: "cross-site fetch metadata", method: "POST", headers: with("Origin", "http://example.com", "Sec-Fetch-Site", "cross-site"), wantCode: http.StatusForbidden},
		{name: "same-site fetch metadata", method: "POST", headers: with("Sec-Fetch-Site", "same-site"), wantCode: http.StatusForbidden},
		{name: "GET is never checked", method: "GET", headers: with("Origin", "https://evil.example"), wantCode: http.StatusOK},
		{
			name: "same-origin enforcement off allows a request without Origin", method: "POST",
			cfg:     func(c *admin.Config) { c.EnforceSameOrigin = new(false) },
			headers: authed, wantCode: http.StatusOK,
		},
		{
			name: "same-origin enforcement off still stops browser cross-origin requests", method: "POST",
			cfg:     func(c *admin.Config) { c.EnforceSameOrigin = new(false) },
			headers: with("Origin", "https://evil.example"), wantCode: http.StatusForbidden,
		},
		{
			name: "trusted origin", method: "POST",
			cfg:     func(c *admin.Config) { c.TrustedOrigins = []string{"https://ops.example"} },
			headers: with("Origin", "https://ops.example"), wantCode: http.StatusOK,
		},
		{
			name: "trusted proxy forwarded host, proto and port", method: "POST", cfg: trusted,
			remote: "10.0.0.10:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "ops.example", "X-Forwarded-Proto", "https", "X-Forwarded-Port", "8443",
				"Origin", "https://ops.example:8443"),
			wantCode: http.StatusOK,
		},
		{
			name: "trusted proxy default port is not appended", method: "POST", cfg: trusted,
			remote: "10.0.0.10:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "ops.example", "X-Forwarded-Proto", "https", "X-Forwarded-Port", "443",
				"Origin", "https://ops.example"),
			wantCode: http.StatusOK,
		},
		// Issue 11 item 10: the proxy appends its value; what lies left of it came from the
		// client, who could otherwise name its own origin.
		{
			name: "trusted proxy's right-most forwarded values", method: "POST", cfg: trusted,
			remote: "10.0.0.10:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "evil.example, ops.example", "X-Forwarded-Proto", "http,https",
				"Origin", "https://ops.example", "Sec-Fetch-Site", "same-origin"),
			wantCode: http.StatusOK,
		},
		{
			name: "client-written forwarded host left of the proxy's", method: "POST", cfg: trusted,
			remote: "10.0.0.10:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "evil.example, ops.example", "X-Forwarded-Proto", "https",
				"Origin", "https://evil.example"),
			wantCode: http.StatusForbidden,
		},
		{
			name: "forged forwarded headers from an untrusted peer", method: "POST", cfg: trusted,
			remote: "192.0.2.50:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "ops.example", "X-Forwarded-Proto", "https", "X-Forwarded-Port", "8443",
				"Origin", "https://ops.example:8443"),
			wantCode: http.StatusForbidden,
		},
		{
			name: "forwarded headers without any trusted proxy", method: "POST",
			remote: "10.0.0.10:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "ops.example", "X-Forwarded-Proto", "https",
				"Origin", "https://ops.example"),
			wantCode: http.StatusForbidden,
		},
		{
			name: "trusted proxy but Origin names the internal host", method: "POST", cfg: trusted,
			remote: "10.0.0.10:41000", host: "internal.local",
			headers: with("X-Forwarded-Host", "ops.example", "X-Forwarded-Proto", "https",
				"Origin", "http://internal.local"),
			wantCode: http.StatusForbidden,
		},
		{
			name: "login disabled: foreign origin refused", method: "POST",
			cfg:     func(c *admin.Config) { c.EnableLogin, c.Backend = false, nil },
			headers: []string{"Origin", "https://evil.example"}, wantCode: http.StatusForbidden,
		},
		{
			name: "login disabled: cross-site fetch metadata refused", method: "DELETE",
			cfg:     func(c *admin.Config) { c.EnableLogin, c.Backend = false, nil },
			headers: []string{"Sec-Fetch-Site", "cross-site"}, wantCode: http.StatusForbidden,
		},
		{
			name: "login disabled: same origin allowed", method: "POST",
			cfg:     func(c *admin.Config) { c.EnableLogin, c.Backend = false, nil },
			headers: []string{"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"}, wantCode: http.StatusOK,
		},
		{
			name: "login form POST from another site", method: "POST", path: "/asyncmq/login",
			headers: []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, wantCode: http.StatusForbidden,
		},
		{
			name: "allowlisted path still gets CSRF protection", method: "POST", path: "/asyncmq/static/x",
			headers: []string{"Origin", "https://evil.example"}, wantCode: http.StatusForbidden,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			path := tt.path
			if path == "" {
				path = "/asyncmq/queues/emails/pause"
			}
			r := request(tt.method, path, tt.headers...)
			if tt.remote != "" {
				r.RemoteAddr = tt.remote
			}
			if tt.host != "" {
				r.Host = tt.host
			}
			res := serve(t, b.handler, r)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (body %q)", res.code, tt.wantCode, res.body)
			}
			if res.code == http.StatusForbidden && res.body != "Cross-origin dashboard request rejected" {
				t.Errorf("body = %q", res.body)
			}
		})
	}
}
