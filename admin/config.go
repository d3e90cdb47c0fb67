package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Config configures an Admin. The zero value is a closed, working configuration: the dashboard
// at /asyncmq, no login (every request admitted, with CSRF protection), sessions, strict
// security headers, same-origin enforcement and no CORS. Set EnableLogin and Backend to put it
// behind authentication.
//
// Toggles that default to on are *bool so that leaving them out keeps them on; turn one off
// with new(false).
type Config struct {
	// Handler is the dashboard itself. It sees paths relative to URLPrefix (like a handler
	// behind http.StripPrefix) and builds links with BasePath. Nil serves a minimal built-in
	// page titled "Dashboard".
	Handler http.Handler

	// EnableLogin puts every request outside Allowlist behind Backend. Off by default: every
	// request is then admitted with no user (UserFromContext returns nil).
	EnableLogin bool
	// Backend authenticates requests; required when EnableLogin is true, and refused without it
	// so that a backend is never configured but silently unused.
	Backend AuthBackend

	// URLPrefix is the path the admin is mounted at, default "/asyncmq"; "/" mounts it at the
	// root. Outer prefixes (http.StripPrefix, a trusted proxy's X-Forwarded-Prefix) are
	// recovered per request and need not be included.
	URLPrefix string
	// LoginPath is the login page, relative to URLPrefix; default "/login". Backend.Login
	// serves it and unauthenticated requests are redirected to it; Backend.Logout serves
	// "/logout".
	LoginPath string
	// Allowlist lists paths, relative to URLPrefix, that bypass authentication: a request
	// matches an entry exactly or lies below it (entry + "/"). Default "/login", "/logout",
	// "/static", "/assets" when nil; an empty, non-nil list exempts nothing. Only clean paths
	// match, so "/static/../queues" stays gated. The login, logout and backend routes are
	// outside the gate whatever this says.
	Allowlist []string

	// RequireAdmin admits only users for whom User.Admin reports true; default true.
	RequireAdmin *bool
	// RequiredRoles, when non-empty, admits only users holding at least one of these roles
	// (as given or with the "asyncmq:" prefix). Admins satisfy every role.
	RequiredRoles []string

	// EnforceSameOrigin refuses unsafe requests (POST, PUT, PATCH, DELETE) from authenticated
	// users unless their Origin header names the dashboard's own origin; default true.
	EnforceSameOrigin *bool
	// TrustedOrigins are extra origins ("https://ops.example") allowed to send unsafe requests,
	// for a proxy that rewrites Host without being listed in TrustedProxies.
	TrustedOrigins []string
	// TrustedProxies lists the reverse proxies (IP addresses, CIDR prefixes, "unix"; see
	// ParseTrustedProxies) whose X-Forwarded-Host, -Proto, -Port and -Prefix headers are
	// believed. Default none: forwarded headers are ignored.
	TrustedProxies []string

	// AllowedHosts, when non-nil, limits the Host names the admin answers to: the Host header,
	// or a trusted proxy's X-Forwarded-Host, must be a loopback name (localhost, *.localhost,
	// 127.0.0.0/8, ::1) or match an entry, and anything else gets 421 Misdirected Request. An
	// entry is a host name or IP address, matched without case and on any port, or
	// "name:port" for that port only; "*" allows every Host. This is the defence against DNS
	// rebinding, where a page on the attacker's name, re-pointed at 127.0.0.1, talks to a
	// dashboard on loopback with the attacker's name in Host and Origin: set it (an empty,
	// non-nil list allows loopback names only) whenever the admin listens on loopback or
	// behind a proxy that does not check Host. Default nil: no check, for an application that
	// validates Host itself; asyncmq serve always sets it. GET /health and /ready answer any
	// Host, since probes (a kubelet's, for one) address the pod by IP and learn nothing secret.
	AllowedHosts []string

	// StreamRecheckInterval is how often a long-lived response (see StreamContext, used by the
	// dashboard's live updates) re-authenticates its user; default 30 seconds. Sign-outs in
	// this process and credential expiry end streams at once regardless.
	StreamRecheckInterval time.Duration

	// MaxBodyBytes bounds the body of every request the admin serves, the login forms and the
	// backend's routes included: reading past it fails (http.MaxBytesReader), so a form is
	// answered 400 and the connection closed. Default 1 MiB; the dashboard's and the login
	// backends' own form limits are lower still.
	MaxBodyBytes int64

	// IncludeSecurity sends the security headers (CSP, X-Frame-Options, nosniff,
	// Referrer-Policy, COOP, and HSTS over TLS); default true. Turn it off only when the host
	// application sets them.
	IncludeSecurity *bool
	// ContentSecurityPolicy replaces DefaultContentSecurityPolicy.
	ContentSecurityPolicy string

	// IncludeSession loads a server-side session for every request (see SessionFromRequest);
	// default true. Backends that need sessions refuse to work without it.
	IncludeSession *bool
	// Session configures the sessions.
	Session SessionConfig

	// IncludeCORS answers cross-origin requests from CORS.AllowOrigins; default false, which
	// sends no CORS headers at all.
	IncludeCORS bool
	// CORS configures cross-origin access when IncludeCORS is true.
	CORS CORSConfig

	// Ready backs GET /ready: nil or a nil error answers 200 {"status":"ok"}, an error 503
	// {"status":"error","error":"<error class>"}. It is called with a 5 second deadline.
	// asyncmq serve passes the Inspector's Ping.
	Ready func(ctx context.Context) error

	// Logger receives refused and failed requests; default slog.Default().
	Logger *slog.Logger
}

// SessionConfig configures server-side sessions (github.com/alexedwards/scs/v2). The cookie
// carries only a random 256-bit token; the data stays in Store, and the token is stored hashed.
// There is no signing secret to configure: nothing in the cookie needs signing, so the classic
// "session secret" has no job here, and losing or rotating one cannot log anybody out.
type SessionConfig struct {
	// Store holds session data; default an in-memory store, which loses sessions on restart
	// and is not shared between replicas. Use a SQL store in production.
	Store scs.Store
	// CookieName is the cookie's name; default "asyncmq_session". The cookie's Path is the
	// admin's public mount path ("/asyncmq/"), so other applications on the host never see it.
	// Over TLS the cookie is named "__Host-" + CookieName, which browsers bind to the exact host
	// and Secure, and which must have Path=/: binding to the host is the stronger guarantee,
	// since paths do not isolate applications of one origin from each other anyway.
	CookieName string
	// IdleTimeout ends a session unused for this long; default 30 minutes.
	IdleTimeout time.Duration
	// Lifetime ends every session this long after it began, however active; default 12 hours.
	Lifetime time.Duration
	// SameSite is the cookie's SameSite attribute; default http.SameSiteStrictMode, so no
	// request another site starts, not even a link, carries the session. The cost: following a
	// link to the dashboard from another site (a chat message, an alert e-mail) shows the
	// login page or an anonymous view until the next same-site navigation. Choose
	// http.SameSiteLaxMode if such links must land signed in; the admin's CSRF checks do not
	// depend on it.
	SameSite http.SameSite
	// Secure marks the cookie Secure on plain-HTTP requests too, for deployments whose
	// TLS-terminating proxy is not in TrustedProxies. Over TLS the cookie is always Secure.
	Secure bool
}

// CORSConfig configures cross-origin access to the admin. Origins listed here (other than "*")
// are also trusted by the CSRF and same-origin checks, since allowing a cross-origin caller to
// read responses but not to act would be pointless.
type CORSConfig struct {
	// AllowOrigins lists the allowed origins ("https://ops.example"); "*" allows any origin
	// and cannot be combined with AllowCredentials. Required when IncludeCORS is true.
	AllowOrigins []string
	// AllowMethods defaults to GET, POST, OPTIONS.
	AllowMethods []string
	// AllowHeaders defaults to Accept, Authorization, Content-Type, HX-Request, HX-Target,
	// HX-Trigger.
	AllowHeaders []string
	// AllowCredentials lets browsers send cookies and read credentialed responses.
	AllowCredentials bool
	// MaxAge is how long browsers may cache a preflight answer; default 10 minutes.
	MaxAge time.Duration
}

// DefaultContentSecurityPolicy is the policy sent when Config.ContentSecurityPolicy is empty.
// It allows no inline script or style, so the dashboard's pages carry none.
const DefaultContentSecurityPolicy = "default-src 'self'; script-src 'self'; script-src-elem 'self'; " +
	"style-src 'self'; style-src-elem 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; worker-src 'none'; manifest-src 'self'"

// Defaults not exposed as constants elsewhere.
const (
	defaultURLPrefix   = "/asyncmq"
	defaultLoginPath   = "/login"
	logoutPath         = "/logout"
	defaultCookieName  = "asyncmq_session"
	defaultIdleTimeout = 30 * time.Minute
	defaultLifetime    = 12 * time.Hour
	defaultCORSMaxAge  = 10 * time.Minute
	readyTimeout       = 5 * time.Second
	defaultMaxBody     = 1 << 20
)

var (
	defaultAllowlist   = []string{"/login", "/logout", "/static", "/assets"}
	defaultCORSMethods = []string{"GET", "POST", "OPTIONS"}
	defaultCORSHeaders = []string{"Accept", "Authorization", "Content-Type", "HX-Request", "HX-Target", "HX-Trigger"}
)

// ErrInvalidConfig matches (with errors.Is) every error New returns for a bad Config. The
// error's text names the setting at fault.
var ErrInvalidConfig = errors.New("invalid admin configuration")

type configErr struct{ msg string }

func (e *configErr) Error() string        { return e.msg }
func (e *configErr) Is(target error) bool { return target == ErrInvalidConfig }

func configError(format string, args ...any) error {
	return &configErr{msg: "admin: " + fmt.Sprintf(format, args...)}
}

func on(b *bool) bool { return b == nil || *b }

// cleanMountPath validates a configured path (URLPrefix, LoginPath, an Allowlist entry) and
// returns it without a trailing slash. Only unreserved characters are allowed so that the
// path's escaped and unescaped forms are identical.
func cleanMountPath(p string) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", true
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
		for i := 0; i < len(seg); i++ {
			if !isUnreserved(seg[i]) {
				return "", false
			}
		}
	}
	return p, true
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// parseOrigin validates a configured origin and returns it normalised: lower case, without a
// default port.
func parseOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	return normalOrigin(u.Scheme, u.Host), true
}

// normalOrigin renders scheme://host[:port] the way a browser's Origin header does: lower
// case and without the scheme's default port.
func normalOrigin(scheme, hostport string) string {
	scheme = strings.ToLower(scheme)
	host, port := splitHostPort(hostport)
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	s := scheme + "://" + strings.ToLower(host)
	if port != "" {
		s += ":" + port
	}
	return s
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port" without failing on a
// missing port, which net.SplitHostPort does.
func splitHostPort(hp string) (host, port string) {
	if strings.HasPrefix(hp, "[") {
		if i := strings.LastIndex(hp, "]"); i > 0 {
			if rest := hp[i+1:]; strings.HasPrefix(rest, ":") {
				return hp[:i+1], rest[1:]
			}
			return hp[:i+1], ""
		}
		return hp, ""
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && strings.IndexByte(hp, ':') == i {
		return hp[:i], hp[i+1:]
	}
	return hp, ""
}
