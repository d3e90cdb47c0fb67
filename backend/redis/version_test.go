package redis

import "testing"

func TestVersionAtLeast(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"7.0.0", true}, {"7.0.15", true}, {"7.2.4", true}, {"8.0.0", true},
		{"6.2.14", false}, {"6.0", false}, {"5.0.7", false}, {"", false},
	} {
		if got := versionAtLeast(tt.v, MinVersion); got != tt.want {
			t.Errorf("versionAtLeast(%q, %q) = %v, want %v", tt.v, MinVersion, got, tt.want)
		}
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url    string
		topo   topology
		addrs  int
		db     int
		prefix string
		tls    bool
	}{
		{"redis://127.0.0.1:6379/3", single, 1, 3, "asyncmq", false},
		{"redis://localhost", single, 1, 0, "asyncmq", false},
		{"rediss://u:p@h:6380/1?prefix=app", single, 1, 1, "app", true},
		{"redis+cluster://a:7000,b:7001,c:7002", cluster, 3, 0, "asyncmq", false},
		{"redis+sentinel://:pw@s1:26379,s2:26379/mymaster/2", sentinel, 2, 2, "asyncmq", false},
	}
	for _, tt := range tests {
		got, err := parseURL(tt.url)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if got.topo != tt.topo || len(got.addrs) != tt.addrs || got.db != tt.db || got.prefix != tt.prefix || (got.tls != nil) != tt.tls {
			t.Errorf("parseURL(%q) = %+v", tt.url, got)
		}
	}
	for _, bad := range []string{"redis+cluster://a:1/3", "redis+sentinel://s:26379", "redis://", "http://x", "redis://h/0/1"} {
		if _, err := parseURL(bad); err == nil {
			t.Errorf("parseURL(%q) succeeded", bad)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("redis://:secret@127.0.0.1:6379/0?prefix=x")
	f.Add("redis+sentinel://s1:26379,s2:26379/m/1")
	f.Fuzz(func(t *testing.T, raw string) {
		_, _ = parseURL(raw)
	})
}
