package admin_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	strict := map[string]string{
		"Content-Security-Policy":    admin.DefaultContentSecurityPolicy,
		"X-Frame-Options":            "DENY",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "same-origin",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	tests := []struct {
		name     string
		cfg      func(*admin.Config)
		req      func() *http.Request
		want     map[string]string
		wantHSTS bool
		absent   []string
	}{
		{
			name: "default on a dashboard page",
			req:  func() *http.Request { return request("GET", "/asyncmq/", "X-Test-User", "a", "X-Test-Roles", "admin") },
			want: strict, absent: []string{"Strict-Transport-Security"},
		},
		{
			name: "default on a redirect to login",
			req:  func() *http.Request { return request("GET", "/asyncmq/") },
			want: strict, absent: []string{"Strict-Transport-Security"},
		},
		{
			name: "HSTS over TLS",
			req: func() *http.Request {
				r := request("GET", "/asyncmq/")
				r.TLS = &tls.ConnectionState{}
				return r
			},
			want: strict, wantHSTS: true,
		},
		{
			name: "HSTS when a trusted proxy terminated TLS",
			cfg:  func(c *admin.Config) { c.TrustedProxies = []string{"192.0.2.1"} },
			req:  func() *http.Request { return request("GET", "/asyncmq/", "X-Forwarded-Proto", "https") },
			want: strict, wantHSTS: true,
		},
		{
			name:   "no HSTS on a forged X-Forwarded-Proto",
			req:    func() *http.Request { return request("GET", "/asyncmq/", "X-Forwarded-Proto", "https") },
			want:   strict,
			absent: []string{"Strict-Transport-Security"},
		},
		{
			name: "custom CSP",
			cfg:  func(c *admin.Config) { c.ContentSecurityPolicy = "default-src 'none'; img-src 'self' data:" },
			req:  func() *http.Request { return request("GET", "/asyncmq/") },
			want: map[string]string{"Content-Security-Policy": "default-src 'none'; img-src 'self' data:", "X-Frame-Options": "DENY"},
		},
		{
			name: "disabled when the host application owns them",
			cfg:  func(c *admin.Config) { c.IncludeSecurity = new(false) },
			req: func() *http.Request {
				r := request("GET", "/asyncmq/")
				r.TLS = &tls.ConnectionState{}
				return r
			},
			absent: []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy",
				"Cross-Origin-Opener-Policy", "Strict-Transport-Security"},
		},
		{
			name: "on health probes too",
			req:  func() *http.Request { return request("GET", "/asyncmq/health") },
			want: strict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			res := serve(t, b.handler, tt.req())
			for k, v := range tt.want {
				if got := res.header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.wantHSTS {
				if got := res.header.Get("Strict-Transport-Security"); got != "max-age=31556926; includeSubDomains" {
					t.Errorf("Strict-Transport-Security = %q", got)
				}
			}
			for _, k := range tt.absent {
				if got := res.header.Get(k); got != "" {
					t.Errorf("%s = %q, want none", k, got)
				}
			}
		})
	}
}

func TestDefaultCSPForbidsInlineCode(t *testing.T) {
	t.Parallel()
	csp := admin.DefaultContentSecurityPolicy
	if strings.Contains(csp, "unsafe-") {
		t.Fatalf("default CSP allows unsafe sources: %s", csp)
	}
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "script-src-elem 'self'", "style-src 'self'",
		"style-src-elem 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d+";") && !strings.HasSuffix(csp, d) {
			t.Errorf("default CSP lacks %q", d)
		}
	}
}

func TestSecurityHeadersCanBeOverriddenByTheDashboard(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) {
		c.EnableLogin, c.Backend = false, nil
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Content-Security-Policy", "frame-ancestors 'self'")
			w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		})
	})
	res := serve(t, b.handler, request("GET", "/asyncmq/"))
	if got := res.header.Values("Content-Security-Policy"); len(got) != 2 || got[1] != "frame-ancestors 'self'" {
		t.Errorf("CSP = %q", got)
	}
	if got := res.header.Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("X-Frame-Options = %q", got)
	}
	// The next response must not see the previous handler's changes.
	res = serve(t, b.handler, request("GET", "/asyncmq/"))
	if got := res.header.Values("Content-Security-Policy"); len(got) != 2 || got[0] != admin.DefaultContentSecurityPolicy {
		t.Errorf("CSP leaked between responses: %q", got)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(origin string) *http.Request {
		return request("OPTIONS", "/asyncmq/queues", "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "HX-Request")
	}
	tests := []struct {
		name      string
		cfg       func(*admin.Config)
		req       *http.Request
		wantCode  int
		wantACAO  string
		wantACAC  string
		wantACAM  string
		wantVaryO bool
	}{
		{
			name: "closed by default", req: preflight("https://evil.example"),
			wantCode: http.StatusSeeOther,
		},
		{
			name: "explicit origin with credentials",
			cfg: func(c *admin.Config) {
				c.IncludeCORS = true
				c.CORS = admin.CORSConfig{AllowOrigins: []string{"https://app.example"}, AllowCredentials: true}
			},
			req:      preflight("https://app.example"),
			wantCode: http.StatusNoContent, wantACAO: "https://app.example", wantACAC: "true",
			wantACAM: "GET, POST, OPTIONS", wantVaryO: true,
		},
		{
			name: "explicit origin, other origin gets nothing",
			cfg: func(c *admin.Config) {
				c.IncludeCORS = true
				c.CORS = admin.CORSConfig{AllowOrigins: []string{"https://app.example"}, AllowCredentials: true}
			},
			req:      preflight("https://evil.example"),
			wantCode: http.StatusSeeOther, wantVaryO: true,
		},
		{
			name: "wildcard without credentials",
			cfg: func(c *admin.Config) {
				c.IncludeCORS = true
				c.CORS = admin.CORSConfig{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET"}}
			},
			req:      preflight("https://anyone.example"),
			wantCode: http.StatusNoContent, wantACAO: "*", wantACAM: "GET", wantVaryO: true,
		},
		{
			name: "simple request from an allowed origin",
			cfg: func(c *admin.Config) {
				c.IncludeCORS = true
				c.CORS = admin.CORSConfig{AllowOrigins: []string{"https://app.example"}, AllowCredentials: true}
			},
			req: request("GET", "/asyncmq/queues", "Origin", "https://app.example",
				"X-Test-User", "a", "X-Test-Roles", "admin"),
			wantCode: http.StatusOK, wantACAO: "https://app.example", wantACAC: "true", wantVaryO: true,
		},
		{
			name: "allowed origin may act",
			cfg: func(c *admin.Config) {
				c.IncludeCORS = true
				c.CORS = admin.CORSConfig{AllowOrigins: []string{"https://app.example"}, AllowCredentials: true}
			},
			req: request("POST", "/asyncmq/queues/emails/pause", "Origin", "https://app.example",
				"Sec-Fetch-Site", "cross-site", "X-Test-User", "a", "X-Test-Roles", "admin"),
			wantCode: http.StatusOK, wantACAO: "https://app.example", wantACAC: "true", wantVaryO: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			res := serve(t, b.handler, tt.req)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%q)", res.code, tt.wantCode, res.body)
			}
			check := func(k, want string) {
				if got := res.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			check("Access-Control-Allow-Origin", tt.wantACAO)
			check("Access-Control-Allow-Credentials", tt.wantACAC)
			check("Access-Control-Allow-Methods", tt.wantACAM)
			vary := strings.Join(res.header.Values("Vary"), ",")
			if got := strings.Contains(vary, "Origin"); got != tt.wantVaryO {
				t.Errorf("Vary = %q, want Origin listed: %v", vary, tt.wantVaryO)
			}
		})
	}
}
