package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// TestSafeRedirect runs every open-redirect trick from the auth research (auth.md §5.3) and the
// oauth2-proxy advisories through SafeRedirect, under each way of mounting the admin.
func TestSafeRedirect(t *testing.T) {
	t.Parallel()
	attacks := []string{
		"//evil.com",
		"///evil.com",
		"////evil.com",
		`/\evil.com`,
		`\\evil.com`,
		`\/evil.com`,
		"/\t/evil.com",
		"/\n/evil.com",
		"/\r/evil.com",
		"/ /evil.com",
		"/%09/evil.com",
		"/%0a/evil.com",
		"/%0d/evil.com",
		"/%2F/evil.com",
		"/%2f%2fevil.com",
		"/%5C/evil.com",
		"/%5cevil.com",
		"%2F%2Fevil.com",
		"https://evil.com",
		"HTTPS://evil.com",
		"http:/evil.com",
		"http:evil.com",
		"javascript:alert(1)",
		" javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"evil.com",
		"/..//evil.com",
		"/../evil.com",
		"/.%2e/evil.com",
		"/%2e%2e/%2e%2e/evil.com",
		"/\x00/evil.com",
		"/%00/evil.com",
		"/\x7f/evil.com",
		"/\u3000/evil.com",
		"/\uff0fevil.com",
		"/%",
		"/%zz",
		"/" + strings.Repeat("a", 10*1024),
		"",
	}
	bases := []struct {
		name string
		wrap func(http.Handler) http.Handler
		pfx  string
		base string
	}{
		{name: "default", base: "/asyncmq"},
		{name: "root", pfx: "/", base: ""},
		{name: "nested", base: "/operations/asyncmq", wrap: func(h http.Handler) http.Handler { return http.StripPrefix("/operations", h) }},
	}
	for _, bs := range bases {
		b := setup(t, func(c *admin.Config) {
			c.EnableLogin, c.Backend = false, nil
			c.URLPrefix = bs.pfx
			c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, admin.SafeRedirect(r, r.URL.Query().Get("next")))
			})
		})
		h := b.handler
		if bs.wrap != nil {
			h = bs.wrap(h)
		}
		probe := func(t *testing.T, next string) string {
			return serve(t, h, request("GET", bs.base+"/probe?next="+url.QueryEscape(next))).body
		}
		t.Run(bs.name, func(t *testing.T) {
			t.Parallel()
			for _, next := range attacks {
				for _, n := range []string{next, bs.base + next} {
					if got := probe(t, n); got != bs.base+"/" {
						t.Errorf("SafeRedirect(%q) = %q, want the dashboard root %q", n, got, bs.base+"/")
					}
				}
			}
			accepted := []string{
				bs.base + "/",
				bs.base + "/queues?state=failed",
				bs.base + "/jobs/42",
				bs.base + "/jobs/%C3%A9t%C3%A9#top",
				bs.base + "/search?q=%2F%2Fnot-a-host",
			}
			for _, next := range accepted {
				if got := probe(t, next); got != next {
					t.Errorf("SafeRedirect(%q) = %q, want it kept", next, got)
				}
			}
			if bs.base != "" {
				for _, outside := range []string{"/queues", "/other/", bs.base + "x/queues", bs.base} {
					if got := probe(t, outside); got != bs.base+"/" {
						t.Errorf("SafeRedirect(%q) outside the dashboard = %q", outside, got)
					}
				}
			}
		})
	}
}

// TestLoginRedirectBounded reproduces issue 11 item 8: the login redirect copied the whole
// request into next, so a 900 KB query became a 2.7 MB Location header.
func TestLoginRedirectBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	huge := strings.Repeat("%22", 300<<10)
	tests := []struct {
		name, target, wantLoc string
		htmx                  bool
	}{
		{"huge query", "/asyncmq/queues?q=" + huge, "/asyncmq/login?next=/asyncmq/queues", false},
		{"huge query over htmx", "/asyncmq/queues?q=" + huge, "/asyncmq/login?next=/asyncmq/queues", true},
		{"huge path", "/asyncmq/queues/" + strings.Repeat("a", 5000), "/asyncmq/login?next=/asyncmq/", false},
		{"query that fits", "/asyncmq/queues?q=" + strings.Repeat("a", 100), "/asyncmq/login?next=/asyncmq/queues%3Fq%3D" + strings.Repeat("a", 100), false},
	}
	for _, tt := range tests {
		var hdr []string
		if tt.htmx {
			hdr = []string{"HX-Request", "true"}
		}
		res := serve(t, b.handler, request("GET", tt.target, hdr...))
		got := res.header.Get("Location")
		if tt.htmx {
			got = res.header.Get("HX-Redirect")
		}
		if got != tt.wantLoc {
			t.Errorf("%s: redirect %.120q (%d bytes), want %q", tt.name, got, len(got), tt.wantLoc)
		}
	}
	// The bare mount point's slash redirect keeps only a query that fits as well.
	res := serve(t, b.handler, request("GET", "/asyncmq?q="+huge))
	if loc := res.header.Get("Location"); loc != "/asyncmq/" {
		t.Errorf("bare prefix redirect: Location %.120q (%d bytes), want /asyncmq/", loc, len(loc))
	}
}
