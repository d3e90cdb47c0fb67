package admin_test

import (
	"net/http"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// TestAllowedHostsStopDNSRebinding reproduces issue 11 item 2: with login off on loopback, a page
// on attacker.example re-pointed at 127.0.0.1 sent its own name in Host and a matching Origin,
// and could read pages and act. Only loopback names and configured hosts are served now.
func TestAllowedHostsStopDNSRebinding(t *testing.T) {
	t.Parallel()
	open := func(hosts ...string) func(*admin.Config) {
		return func(c *admin.Config) {
			c.EnableLogin, c.Backend = false, nil
			c.AllowedHosts = append([]string{}, hosts...)
		}
	}
	trusted := func(c *admin.Config) {
		open("ops.example")(c)
		c.TrustedProxies = []string{"10.0.0.0/24"}
	}
	tests := []struct {
		name     string
		cfg      func(*admin.Config)
		method   string
		path     string
		host     string
		remote   string
		headers  []string
		wantCode int
	}{
		{name: "rebound page reads", cfg: open(), method: "GET", host: "attacker.example:8000", wantCode: http.StatusMisdirectedRequest},
		{name: "rebound page acts", cfg: open(), method: "POST", host: "attacker.example:8000",
			headers: []string{"Origin", "http://attacker.example:8000", "Sec-Fetch-Site", "same-origin"}, wantCode: http.StatusMisdirectedRequest},
		{name: "rebound login page", cfg: open(), method: "GET", path: "/asyncmq/login", host: "attacker.example", wantCode: http.StatusMisdirectedRequest},
		{name: "no Host at all", cfg: open(), method: "GET", host: "", wantCode: http.StatusMisdirectedRequest},
		{name: "127.0.0.1", cfg: open(), method: "GET", host: "127.0.0.1:8000", wantCode: http.StatusOK},
		{name: "other loopback address", cfg: open(), method: "GET", host: "127.0.0.2", wantCode: http.StatusOK},
		{name: "localhost", cfg: open(), method: "GET", host: "LocalHost:8000", wantCode: http.StatusOK},
		{name: "name under localhost", cfg: open(), method: "GET", host: "app.localhost:8000", wantCode: http.StatusOK},
		{name: "IPv6 loopback", cfg: open(), method: "GET", host: "[::1]:8000", wantCode: http.StatusOK},
		{name: "localhost look-alike", cfg: open(), method: "GET", host: "localhost.attacker.example", wantCode: http.StatusMisdirectedRequest},
		{name: "configured host on any port", cfg: open("ops.example"), method: "GET", host: "OPS.example.:8443", wantCode: http.StatusOK},
		{name: "configured host and port", cfg: open("ops.example:8443"), method: "GET", host: "ops.example:8443", wantCode: http.StatusOK},
		{name: "configured host, other port", cfg: open("ops.example:8443"), method: "GET", host: "ops.example:9000", wantCode: http.StatusMisdirectedRequest},
		{name: "configured IP address", cfg: open("10.0.0.5"), method: "GET", host: "10.0.0.5:8000", wantCode: http.StatusOK},
		{name: "wildcard", cfg: open("*"), method: "GET", host: "anything.example", wantCode: http.StatusOK},
		{name: "health answers any Host", cfg: open(), method: "GET", path: "/asyncmq/health", host: "10.1.2.3:8000", wantCode: http.StatusOK},
		{name: "ready answers any Host", cfg: open(), method: "GET", path: "/asyncmq/ready", host: "10.1.2.3:8000", wantCode: http.StatusOK},
		{name: "no list, no check", cfg: func(c *admin.Config) { c.EnableLogin, c.Backend = false, nil }, method: "GET", host: "attacker.example", wantCode: http.StatusOK},
		{name: "forwarded host of a trusted proxy", cfg: trusted, method: "GET", host: "asyncmq:8000", remote: "10.0.0.10:4000",
			headers: []string{"X-Forwarded-Host", "ops.example"}, wantCode: http.StatusOK},
		{name: "forwarded host not allowed", cfg: trusted, method: "GET", host: "ops.example", remote: "10.0.0.10:4000",
			headers: []string{"X-Forwarded-Host", "attacker.example"}, wantCode: http.StatusMisdirectedRequest},
		{name: "forwarded host from an untrusted peer is ignored", cfg: trusted, method: "GET", host: "attacker.example", remote: "192.0.2.1:4000",
			headers: []string{"X-Forwarded-Host", "ops.example"}, wantCode: http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			path := tt.path
			if path == "" {
				path = "/asyncmq/"
			}
			r := request(tt.method, path, tt.headers...)
			r.Host = tt.host
			if tt.remote != "" {
				r.RemoteAddr = tt.remote
			}
			res := serve(t, b.handler, r)
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (body %q)", res.code, tt.wantCode, res.body)
			}
			if res.code == http.StatusMisdirectedRequest && (contains(res.body, "attacker") || !contains(res.body, "Misdirected")) {
				t.Errorf("body = %q: want the refusal, without the Host echoed", res.body)
			}
		})
	}
}
