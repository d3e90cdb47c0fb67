package admin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// FuzzGate sends arbitrary methods, request-targets and headers through the whole admin. It
// must never panic, never answer 5xx except the 503 of a failing backend, and never emit a
// redirect that a browser could read as another host.
func FuzzGate(f *testing.F) {
	f.Add("GET", "/asyncmq/", "", uint8(0))
	f.Add("POST", "/asyncmq/queues/emails/pause", "Origin: https://evil.example\nX-Test-User: a\nX-Test-Roles: admin", uint8(0))
	f.Add("GET", "/asyncmq/static/../queues?x=1", "HX-Request: true", uint8(0))
	f.Add("GET", "/asyncmq/", "X-Forwarded-Prefix: //evil.example\nX-Forwarded-Host: evil\nX-Forwarded-Proto: https", uint8(2))
	f.Add("DELETE", "/operations/asyncmq/jobs/1", "X-Test-User: bad", uint8(4))
	f.Add("GET", "/asyncmq/login?next=//evil.com", "", uint8(0))
	f.Add("OPTIONS", "/asyncmq/", "Origin: https://app.example\nAccess-Control-Request-Method: POST", uint8(0))
	f.Add("GET", "/asyncmq/ready", "", uint8(1))
	f.Add("PUT", "/asyncmq/x", "X-Test-User: a\nX-Test-Claims: {\"is_admin\": [true]}", uint8(0))
	f.Add("GET", "http://example.com/asyncmq/%2e%2e/", "", uint8(6))
	f.Add("POST", "/asyncmq/queues/emails", "Host: attacker.example:8000\nOrigin: http://attacker.example:8000", uint8(8))
	f.Add("GET", "/asyncmq/", "X-Forwarded-Host: example.com, attacker.example\nX-Forwarded-For: 1.2.3.4, 10.0.0.9", uint8(10))
	f.Add("GET", "/asyncmq/health", "Host: [::1", uint8(8))
	f.Add("GET", "/asyncmq/login?next=/asyncmq/"+strings.Repeat("a", 5000), "", uint8(8))

	build := func(backend *fakeBackend) http.Handler {
		a, err := admin.New(admin.Config{
			EnableLogin: true, Backend: backend, Handler: echoHandler,
			TrustedProxies: []string{"10.0.0.0/8"}, IncludeCORS: true,
			CORS:  admin.CORSConfig{AllowOrigins: []string{"https://app.example"}},
			Ready: func(context.Context) error { return errors.New("down") },
		})
		if err != nil {
			f.Fatal(err)
		}
		return a.Handler()
	}
	healthy := build(&fakeBackend{})
	failing := build(&fakeBackend{err: errors.New("database down")})
	guarded, err := admin.New(admin.Config{
		EnableLogin: true, Backend: &fakeBackend{}, Handler: echoHandler,
		TrustedProxies: []string{"10.0.0.0/8"}, AllowedHosts: []string{"example.com"},
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, target, headers string, mode uint8) {
		if !validToken(method) {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := (&http.Request{
			Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "example.com", RemoteAddr: "192.0.2.1:1234", Body: http.NoBody,
		}).WithContext(context.Background())
		for line := range strings.SplitSeq(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || !validToken(k) || strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			if strings.EqualFold(k, "Host") {
				r.Host = strings.TrimSpace(v)
				continue
			}
			r.Header.Add(k, strings.TrimSpace(v))
		}
		h := healthy
		if mode&1 != 0 {
			h = failing
		}
		if mode&2 != 0 {
			r.RemoteAddr = "10.1.2.3:1234"
		}
		if mode&8 != 0 {
			h = guarded.Handler()
		}
		if mode&4 != 0 {
			h = http.StripPrefix("/operations", h)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		code := w.Code
		if code >= 500 && !(code == http.StatusServiceUnavailable && (mode&1 != 0 || strings.HasSuffix(u.Path, "/ready"))) {
			t.Fatalf("%s %s: status %d (%q)", method, target, code, w.Body.String())
		}
		for _, k := range []string{"Location", "HX-Redirect"} {
			loc := w.Header().Get(k)
			if loc == "" {
				continue
			}
			if loc[0] != '/' || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") || strings.ContainsAny(loc, "\r\n\t\\ ") {
				t.Fatalf("%s %s: %s %q could leave the site", method, target, k, loc)
			}
			if lu, err := url.Parse(loc); err != nil || lu.Host != "" || lu.Scheme != "" {
				t.Fatalf("%s %s: %s %q is not a local path", method, target, k, loc)
			}
		}
	})
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// FuzzClientAddr feeds X-Forwarded-For chains to ProxyList.ClientAddr: it must never panic, and
// must answer a valid address that is either the peer, an address of the chain, or a proxy.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.10:443", "198.51.100.7")
	f.Add("10.0.0.10:443", "1.1.1.1, 198.51.100.7, 10.0.0.11")
	f.Add("[fd00::1]:443", "[2001:db8::5]:9000, junk")
	f.Add("203.0.113.9:1", "10.0.0.1")
	f.Add("@", ",,, ::ffff:10.0.0.3 ,")
	l, err := admin.ParseTrustedProxies([]string{"10.0.0.0/24", "fd00::/8", "unix"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := l.ClientAddr(r)
		if got == remote {
			return
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("ClientAddr(%q, %q) = %q: neither the peer nor an address", remote, xff, got)
		}
	})
}
