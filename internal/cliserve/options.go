package cliserve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/cli"
)

// The authentication modes of --auth.
const (
	AuthNone     = "none"
	AuthJWT      = "jwt"
	AuthJWTDB    = "jwt-db"
	AuthProxy    = "proxy"
	AuthPassword = "password"
)

// AuthModes lists the values --auth accepts.
var AuthModes = []string{AuthNone, AuthJWT, AuthJWTDB, AuthProxy, AuthPassword, AuthOIDC}

// Options is everything `asyncmq serve` is told. Flag names are given because every validation
// error names the flag (and its ASYNCMQ_* variable) at fault.
type Options struct {
	Addr string // --addr
	// MetricsAddr, when set, is a second listener serving /metrics (the dashboard's Prometheus
	// exposition) without authentication, for scrapers (--metrics-addr).
	MetricsAddr string
	Prefix      string // --prefix
	BackendURL  string // --backend
	Workers     int    // --workers: concurrency per queue of the in-process worker; 0 = none
	Queues      map[string]int
	Demo        bool   // --demo
	Auth        string // --auth
	Roles       bool   // --roles
	Insecure    bool   // --insecure
	UsersDB     string // --users-db

	JWTAlgorithms []string      // --jwt-algorithms
	JWTPublicKey  string        // --jwt-public-key
	JWTJWKSURL    string        // --jwt-jwks-url
	JWTAudience   string        // --jwt-audience
	JWTIssuer     string        // --jwt-issuer
	JWTLeeway     time.Duration // --jwt-leeway
	JWTCookie     string        // --jwt-cookie
	// JWTSecret is the HMAC secret from ASYNCMQ_JWT_SECRET or --jwt-secret-file; never logged.
	JWTSecret []byte

	ProxyHeader       string   // --proxy-header
	ProxyEmailHeader  string   // --proxy-email-header
	ProxyGroupsHeader string   // --proxy-groups-header
	ProxyAdminHeader  string   // --proxy-admin-header: "" reads no admin flag
	TrustedProxies    []string // --trusted-proxies
	// AllowedHosts are the Host names served besides loopback ones (--allowed-hosts); "*" is any.
	AllowedHosts []string

	// ReadTimeout bounds reading a whole request, body included (--read-timeout), so a slow
	// client cannot hold a connection; WriteTimeout bounds writing the answer (--write-timeout).
	// Live-update streams lift both for themselves. Defaults 20s and 60s.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// StreamRecheck is how often an open live-update stream re-checks its user
	// (--stream-recheck); default 30s.
	StreamRecheck time.Duration

	OIDCIssuer         string   // --oidc-issuer
	OIDCClientID       string   // --oidc-client-id
	OIDCRedirectURL    string   // --oidc-redirect-url
	OIDCScopes         []string // --oidc-scopes
	OIDCRolesClaim     string   // --oidc-roles-claim
	OIDCRoleMap        []string // --oidc-role-map: GROUP=ROLE entries
	OIDCAllowedDomains []string // --oidc-allowed-domains
	OIDCAllowedGroups  []string // --oidc-allowed-groups
	OIDCRequiredClaim  string   // --oidc-required-claim
	OIDCProviderName   string   // --oidc-provider-name
	// OIDCClientSecret is the client secret from ASYNCMQ_OIDC_CLIENT_SECRET or
	// --oidc-client-secret-file; never logged.
	OIDCClientSecret []byte

	// DemoInterval is the pause between two batches of demo jobs; default 2s.
	DemoInterval time.Duration
	// ShutdownTimeout bounds the graceful shutdown of the HTTP server; default 10s.
	ShutdownTimeout time.Duration

	Logger *slog.Logger
	// Out receives the start-up banner (the URL and, for --auth jwt --demo, a token).
	Out io.Writer
	// OnListen, when set, is told the address the server listens on once it accepts connections.
	OnListen func(net.Addr)
	// OnMetricsListen, when set, is told the address of the --metrics-addr listener.
	OnMetricsListen func(net.Addr)

	// recordAudit stores audit entries (the inspector's RecordAudit); Run sets it.
	recordAudit func(context.Context, asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error)
}

func flagErr(flag, format string, args ...any) error {
	return cli.Usagef("--%s (%s): %s", flag, cli.EnvName(flag), fmt.Sprintf(format, args...))
}

// Validate checks the options that can be checked without opening anything, and returns a
// cli.UsageError naming the flag at fault.
func (o *Options) Validate() error {
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return flagErr("addr", "%q is not HOST:PORT: %v", o.Addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return flagErr("addr", "%q: port %q is not a number from 0 to 65535", o.Addr, port)
	}
	if o.MetricsAddr != "" {
		if _, mport, err := net.SplitHostPort(o.MetricsAddr); err != nil {
			return flagErr("metrics-addr", "%q is not HOST:PORT: %v", o.MetricsAddr, err)
		} else if p, err := strconv.Atoi(mport); err != nil || p < 0 || p > 65535 {
			return flagErr("metrics-addr", "%q: port %q is not a number from 0 to 65535", o.MetricsAddr, mport)
		}
	}
	if o.Prefix == "" || o.Prefix[0] != '/' || strings.ContainsAny(o.Prefix, "?#\\ ") || strings.Contains(o.Prefix, "//") {
		return flagErr("prefix", "%q must be a clean path starting with /, such as /asyncmq or /", o.Prefix)
	}
	if o.Workers < 0 {
		return flagErr("workers", "%d must not be negative (0 runs the dashboard only)", o.Workers)
	}
	switch o.Auth {
	case AuthNone:
		if !o.Insecure && !isLoopback(host) {
			return flagErr("auth", "none would let anyone who reaches %s manage every queue; bind --addr to 127.0.0.1, choose another --auth, or pass --insecure", o.Addr)
		}
	case AuthJWT, AuthJWTDB:
		sources := 0
		for _, set := range []bool{len(o.JWTSecret) > 0, o.JWTPublicKey != "", o.JWTJWKSURL != ""} {
			if set {
				sources++
			}
		}
		if sources > 1 {
			return flagErr("auth", "%s takes one key source: ASYNCMQ_JWT_SECRET (or --jwt-secret-file), --jwt-public-key or --jwt-jwks-url", o.Auth)
		}
		if sources == 0 && !(o.Auth == AuthJWT && o.Demo) {
			return flagErr("auth", "%s needs a key: set ASYNCMQ_JWT_SECRET (or --jwt-secret-file), --jwt-public-key or --jwt-jwks-url", o.Auth)
		}
	case AuthProxy:
		if len(o.TrustedProxies) == 0 {
			return flagErr("trusted-proxies", "--auth proxy needs the addresses of the proxies that set %s (IPs or CIDRs), or anyone could send the header", o.ProxyHeader)
		}
		if o.ProxyHeader == "" {
			return flagErr("proxy-header", "must name the header carrying the user")
		}
	case AuthPassword:
	case AuthOIDC:
		if err := o.validateOIDC(); err != nil {
			return err
		}
	default:
		return flagErr("auth", "%q: want one of %s", o.Auth, strings.Join(AuthModes, ", "))
	}
	if o.ReadTimeout < 0 {
		return flagErr("read-timeout", "%s must not be negative", o.ReadTimeout)
	}
	if o.WriteTimeout < 0 {
		return flagErr("write-timeout", "%s must not be negative", o.WriteTimeout)
	}
	if o.StreamRecheck < 0 {
		return flagErr("stream-recheck", "%s must not be negative", o.StreamRecheck)
	}
	if o.JWTLeeway < 0 {
		return flagErr("jwt-leeway", "%s must not be negative", o.JWTLeeway)
	}
	return nil
}

// isLoopback reports whether host only accepts connections from this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
