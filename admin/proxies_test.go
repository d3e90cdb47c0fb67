package admin_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []string
		peer    string
		want    bool
		wantErr string
	}{
		{name: "exact IPv4", entries: []string{"10.0.0.10"}, peer: "10.0.0.10:5000", want: true},
		{name: "other IPv4", entries: []string{"10.0.0.10"}, peer: "10.0.0.11:5000", want: false},
		{name: "CIDR", entries: []string{"10.0.0.0/8"}, peer: "10.200.3.4:1", want: true},
		{name: "outside CIDR", entries: []string{"10.0.0.0/8"}, peer: "11.0.0.1:1", want: false},
		{name: "unmasked CIDR", entries: []string{"192.168.1.77/24"}, peer: "192.168.1.5:1", want: true},
		{name: "IPv6", entries: []string{"fd00::/8"}, peer: "[fd12::1]:443", want: true},
		{name: "IPv6 exact with zone peer", entries: []string{"fe80::1"}, peer: "[fe80::1%eth0]:443", want: true},
		{name: "IPv4-mapped peer", entries: []string{"10.0.0.0/8"}, peer: "[::ffff:10.1.2.3]:80", want: true},
		{name: "IPv4-mapped entry", entries: []string{"::ffff:10.0.0.0/104"}, peer: "10.1.2.3:80", want: true},
		{name: "bare IP peer", entries: []string{"127.0.0.1"}, peer: "127.0.0.1", want: true},
		{name: "spaces", entries: []string{" 127.0.0.1 "}, peer: "127.0.0.1:9", want: true},
		{name: "unix", entries: []string{"unix"}, peer: "@", want: true},
		{name: "unix not IP", entries: []string{"unix"}, peer: "127.0.0.1:1", want: false},
		{name: "garbage peer", entries: []string{"10.0.0.0/8"}, peer: "not-an-ip", want: false},
		{name: "empty list", entries: nil, peer: "127.0.0.1:1", want: false},
		{name: "wildcard", entries: []string{"*"}, wantErr: `"*" is refused`},
		{name: "hostname", entries: []string{"proxy.internal"}, wantErr: `"proxy.internal" is neither an IP address nor a CIDR prefix`},
		{name: "bad CIDR", entries: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33" is not a CIDR prefix`},
		{name: "empty entry", entries: []string{""}, wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := admin.ParseTrustedProxies(tt.entries)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTrustedProxies(%q) error = %v, want it to contain %q", tt.entries, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrustedProxies(%q): %v", tt.entries, err)
			}
			if got := l.Contains(tt.peer); got != tt.want {
				t.Errorf("Contains(%q) = %v, want %v", tt.peer, got, tt.want)
			}
		})
	}
}

func TestProxyListZeroTrustsNobody(t *testing.T) {
	t.Parallel()
	var l admin.ProxyList
	if !l.Empty() || l.Contains("127.0.0.1:1") || l.Contains("") {
		t.Fatal("zero ProxyList trusts a peer")
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	l, err := admin.ParseTrustedProxies([]string{"10.0.0.0/24", "fd00::/8", "unix"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"direct client's forged header is ignored", "203.0.113.9:5000", []string{"10.0.0.1"}, "203.0.113.9"},
		{"one proxy", "10.0.0.10:443", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-written entries on the left are ignored", "10.0.0.10:443", []string{"1.1.1.1, 2.2.2.2, 198.51.100.7"}, "198.51.100.7"},
		{"two proxies", "10.0.0.10:443", []string{"1.1.1.1, 198.51.100.7, 10.0.0.11"}, "198.51.100.7"},
		{"several header lines", "10.0.0.10:443", []string{"1.1.1.1", "198.51.100.7, 10.0.0.11"}, "198.51.100.7"},
		{"addresses with ports and brackets", "[fd00::1]:443", []string{"[2001:db8::5]:9000"}, "2001:db8::5"},
		{"IPv4-mapped", "10.0.0.10:443", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"garbage where the proxy should have written", "10.0.0.10:443", []string{"198.51.100.7, junk"}, "10.0.0.10"},
		{"only proxies", "10.0.0.10:443", []string{"10.0.0.12, 10.0.0.11"}, "10.0.0.12"},
		{"no header from a proxy", "10.0.0.10:443", nil, "10.0.0.10"},
		{"unix socket proxy", "@", []string{"198.51.100.7"}, "198.51.100.7"},
		{"empty entries are skipped", "10.0.0.10:443", []string{" , 198.51.100.7 ,"}, "198.51.100.7"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := l.ClientAddr(r); got != tt.want {
			t.Errorf("%s: ClientAddr = %q, want %q", tt.name, got, tt.want)
		}
	}
}
