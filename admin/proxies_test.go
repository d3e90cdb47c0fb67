package admin_test

import (
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
