package cliserve

import (
	"net"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/internal/cli"
)

func valid() Options {
	return Options{Addr: "127.0.0.1:8000", Prefix: "/asyncmq", Auth: AuthJWT, JWTSecret: []byte("s"), ProxyHeader: "X-Authenticated-User"}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string // "" = valid
	}{
		{name: "defaults", change: func(*Options) {}},
		{name: "bad address", change: func(o *Options) { o.Addr = "8000" }, wantErr: "--addr (ASYNCMQ_ADDR)"},
		{name: "bad port", change: func(o *Options) { o.Addr = "127.0.0.1:http" }, wantErr: "port"},
		{name: "relative prefix", change: func(o *Options) { o.Prefix = "asyncmq" }, wantErr: "--prefix"},
		{name: "root prefix", change: func(o *Options) { o.Prefix = "/" }},
		{name: "double slash prefix", change: func(o *Options) { o.Prefix = "//evil" }, wantErr: "--prefix"},
		{name: "negative workers", change: func(o *Options) { o.Workers = -1 }, wantErr: "--workers"},
		{name: "none on loopback", change: func(o *Options) { o.Auth = AuthNone }},
		{name: "none on localhost", change: func(o *Options) { o.Auth, o.Addr = AuthNone, "localhost:0" }},
		{name: "none on IPv6 loopback", change: func(o *Options) { o.Auth, o.Addr = AuthNone, "[::1]:0" }},
		{name: "none on every interface", change: func(o *Options) { o.Auth, o.Addr = AuthNone, ":8000" }, wantErr: "--insecure"},
		{name: "none on a public address", change: func(o *Options) { o.Auth, o.Addr = AuthNone, "0.0.0.0:8000" }, wantErr: "--insecure"},
		{name: "none with insecure", change: func(o *Options) { o.Auth, o.Addr, o.Insecure = AuthNone, "0.0.0.0:8000", true }},
		{name: "jwt without a key", change: func(o *Options) { o.JWTSecret = nil }, wantErr: "ASYNCMQ_JWT_SECRET"},
		{name: "jwt demo without a key", change: func(o *Options) { o.JWTSecret, o.Demo = nil, true }},
		{name: "jwt-db demo still needs a key", change: func(o *Options) { o.Auth, o.JWTSecret, o.Demo = AuthJWTDB, nil, true }, wantErr: "needs a key"},
		{name: "two key sources", change: func(o *Options) { o.JWTPublicKey = "pub.pem" }, wantErr: "one key source"},
		{name: "proxy without trusted proxies", change: func(o *Options) { o.Auth = AuthProxy }, wantErr: "--trusted-proxies"},
		{name: "proxy with trusted proxies", change: func(o *Options) { o.Auth, o.TrustedProxies = AuthProxy, []string{"10.0.0.1"} }},
		{name: "unknown auth", change: func(o *Options) { o.Auth = "ldap" }, wantErr: `"ldap"`},
		{name: "negative read timeout", change: func(o *Options) { o.ReadTimeout = -1 }, wantErr: "--read-timeout (ASYNCMQ_READ_TIMEOUT)"},
		{name: "negative write timeout", change: func(o *Options) { o.WriteTimeout = -1 }, wantErr: "--write-timeout (ASYNCMQ_WRITE_TIMEOUT)"},
		{name: "negative stream recheck", change: func(o *Options) { o.StreamRecheck = -1 }, wantErr: "--stream-recheck (ASYNCMQ_STREAM_RECHECK)"},
		{name: "negative leeway", change: func(o *Options) { o.JWTLeeway = -1 }, wantErr: "--jwt-leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := valid()
			tt.change(&o)
			err := o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cli.ExitCode(err) != cli.ExitUsage {
				t.Fatalf("Validate() = %v, want a usage error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDashboardURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		prefix string
		want   string
	}{
		{"127.0.0.1:8000", "/asyncmq", "http://127.0.0.1:8000/asyncmq/"},
		{"0.0.0.0:8000", "/asyncmq/", "http://127.0.0.1:8000/asyncmq/"},
		{"[::]:9000", "/", "http://127.0.0.1:9000/"},
		{"[::1]:9000", "/ops", "http://[::1]:9000/ops/"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := dashboardURL(addr, tt.prefix); got != tt.want {
			t.Errorf("dashboardURL(%s, %q) = %q, want %q", tt.addr, tt.prefix, got, tt.want)
		}
	}
}
