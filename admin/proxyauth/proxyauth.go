// Package proxyauth authenticates dashboard users from identity headers set by an
// authenticating reverse proxy (oauth2-proxy, an SSO gateway, nginx auth_request). It is
// AsyncMQ's ProxyHeaderBackend made safe to deploy: the headers are believed only from the
// configured proxies' own addresses, and a duplicated or oversized header is refused.
//
// The proxy must strip these headers from client requests, and the application must not be
// reachable around the proxy; the trusted-proxy check is the last line, not the only one.
package proxyauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/admin"
)

// Headers names the identity headers a proxy sends. Only User is required.
type Headers struct {
	// User carries the user's stable identifier; the request is anonymous without it.
	User string
	// Email carries the user's e-mail address.
	Email string
	// Groups carries the user's groups, comma-separated; they become roles (see
	// Config.GroupRoles).
	Groups string
	// Admin carries an admin flag, read with admin.Truthy ("true", "1", "yes", "on"). Leave it
	// empty unless the proxy sets this header on every request and strips it from clients: a
	// proxy that only sets the headers it knows passes a client's own admin flag through.
	Admin string
}

var (
	// AsyncMQ is the header set of AsyncMQ's header backend: X-Authenticated-User,
	// X-Authenticated-Roles and X-Authenticated-Admin. Name it in Config.Headers to trust the
	// admin flag; the zero Config.Headers is this set without Admin (see Config.Headers), as
	// asyncmq serve reads X-Authenticated-Admin only with --proxy-admin-header.
	AsyncMQ = Headers{
		User:   "X-Authenticated-User",
		Groups: "X-Authenticated-Roles",
		Admin:  "X-Authenticated-Admin",
	}
	// OAuth2Proxy is the header set oauth2-proxy sends in proxy mode with
	// --pass-user-headers: X-Forwarded-User, X-Forwarded-Email and X-Forwarded-Groups.
	OAuth2Proxy = Headers{
		User:   "X-Forwarded-User",
		Email:  "X-Forwarded-Email",
		Groups: "X-Forwarded-Groups",
	}
)

// DefaultMaxValueLen is the default limit on an identity header's length.
const DefaultMaxValueLen = 256

// presetAdminHeaders are the admin-flag headers of the presets. A request carrying one that
// Headers.Admin does not name is refused: the backend would ignore it, so its presence means
// either a client trying to make itself an administrator through a proxy that passes unknown
// headers on, or a proxy that sets a flag the operator forgot to configure. Either way the
// operator should hear about it rather than have the request served as something it is not.
var presetAdminHeaders = []string{http.CanonicalHeaderKey(AsyncMQ.Admin)}

// Config configures a Backend.
type Config struct {
	// TrustedProxies lists the proxies whose identity headers are believed: IP addresses, CIDR
	// prefixes or "unix" (see admin.ParseTrustedProxies). Required. A request is trusted only
	// when its connection's peer address (http.Request.RemoteAddr) is listed; X-Forwarded-For
	// is never consulted.
	TrustedProxies []string
	// Headers names the identity headers. The zero value means AsyncMQ's user and roles
	// headers without its admin flag: a proxy that does not know X-Authenticated-Admin would
	// pass a client's own flag through, so trusting it takes Headers: AsyncMQ, written out. A
	// request carrying the flag unconfigured is refused. An empty User falls back to
	// "X-Authenticated-User"; other empty names are not read.
	Headers Headers
	// GroupRoles maps a group to the roles it grants. When nil, groups are used as roles as
	// given; when set, only mapped groups grant roles, so an unexpected group grants nothing.
	GroupRoles map[string][]string
	// AdminGroups lists groups whose members are administrators.
	AdminGroups []string
	// MaxValueLen refuses any identity header longer than this many bytes; default 256. Raise
	// it when users belong to many groups.
	MaxValueLen int
	// LogoutURL is where Logout sends the browser, such as oauth2-proxy's "/oauth2/sign_out":
	// only the proxy can end the proxy's session. Default the admin's login page.
	LogoutURL string
	// Logger receives refused requests; default slog.Default(). Header values are never logged.
	Logger *slog.Logger
}

// Backend is an admin.AuthBackend reading identity headers from trusted proxies. Build one with
// New.
type Backend struct {
	proxies     admin.ProxyList
	headers     Headers
	groupRoles  map[string][]string
	adminGroups []string
	maxLen      int
	logoutURL   string
	log         *slog.Logger
}

var _ admin.AuthBackend = (*Backend)(nil)

// New validates cfg and returns the backend. It fails without TrustedProxies: a backend that
// believed identity headers from any peer would let every client log in as anyone.
func New(cfg Config) (*Backend, error) {
	if len(cfg.TrustedProxies) == 0 {
		return nil, errors.New("proxyauth: Config.TrustedProxies is required: identity headers are believed only from these proxies")
	}
	proxies, err := admin.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("proxyauth: Config.TrustedProxies: %w", err)
	}
	h := cfg.Headers
	if h == (Headers{}) {
		h = AsyncMQ
		h.Admin = ""
	}
	if h.User == "" {
		h.User = AsyncMQ.User
	}
	for _, n := range []struct{ field, name string }{
		{"User", h.User}, {"Email", h.Email}, {"Groups", h.Groups}, {"Admin", h.Admin},
	} {
		if n.name != "" && !validHeaderName(n.name) {
			return nil, fmt.Errorf("proxyauth: Config.Headers.%s %q is not a header name", n.field, n.name)
		}
	}
	h.User = http.CanonicalHeaderKey(h.User)
	h.Email = http.CanonicalHeaderKey(h.Email)
	h.Groups = http.CanonicalHeaderKey(h.Groups)
	h.Admin = http.CanonicalHeaderKey(h.Admin)
	maxLen := cfg.MaxValueLen
	if maxLen == 0 {
		maxLen = DefaultMaxValueLen
	}
	if maxLen < 0 {
		return nil, errors.New("proxyauth: Config.MaxValueLen must not be negative")
	}
	if l := cfg.LogoutURL; l != "" && !isLocalPath(l) && !strings.HasPrefix(l, "https://") {
		return nil, fmt.Errorf(`proxyauth: Config.LogoutURL %q must be a path or an https:// URL`, cfg.LogoutURL)
	}
	b := &Backend{
		proxies:     proxies,
		headers:     h,
		adminGroups: slices.Clone(cfg.AdminGroups),
		maxLen:      maxLen,
		logoutURL:   cfg.LogoutURL,
		log:         cfg.Logger,
	}
	if cfg.GroupRoles != nil {
		b.groupRoles = make(map[string][]string, len(cfg.GroupRoles))
		for g, roles := range cfg.GroupRoles {
			b.groupRoles[g] = slices.Clone(roles)
		}
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	return b, nil
}

// errRefused marks identity headers that were present but unacceptable.
var errRefused = fmt.Errorf("proxy identity headers refused: %w", admin.ErrNoCredentials)

// Authenticate returns the user named by the identity headers. The request is anonymous
// (admin.ErrNoCredentials) when the user header is absent or the peer is not a trusted proxy,
// and refused the same way when any identity header is repeated, longer than MaxValueLen or
// holds control characters, or when the request carries a preset's admin header
// (X-Authenticated-Admin) that Headers.Admin does not name.
func (b *Backend) Authenticate(r *http.Request) (*admin.User, error) {
	if !b.proxies.Contains(r.RemoteAddr) {
		if len(r.Header[b.headers.User]) > 0 {
			b.refuse(r, "identity header from an untrusted peer", b.headers.User)
		}
		return nil, admin.ErrNoCredentials
	}
	for _, h := range presetAdminHeaders {
		if h != b.headers.Admin && len(r.Header[h]) > 0 {
			b.refuse(r, "admin header that is not configured (set Headers.Admin, --proxy-admin-header, only if the proxy sets it and strips it from clients)", h)
			return nil, errRefused
		}
	}
	id, ok := b.value(r, b.headers.User)
	if !ok {
		return nil, errRefused
	}
	if id == "" {
		return nil, admin.ErrNoCredentials
	}
	u := &admin.User{ID: id}
	if u.Email, ok = b.value(r, b.headers.Email); !ok {
		return nil, errRefused
	}
	groups, ok := b.value(r, b.headers.Groups)
	if !ok {
		return nil, errRefused
	}
	flag, ok := b.value(r, b.headers.Admin)
	if !ok {
		return nil, errRefused
	}
	u.IsAdmin = admin.Truthy(flag)
	for g := range strings.SplitSeq(groups, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if slices.Contains(b.adminGroups, g) {
			u.IsAdmin = true
		}
		if b.groupRoles == nil {
			u.Roles = append(u.Roles, g)
			continue
		}
		for _, role := range b.groupRoles[g] {
			if !slices.Contains(u.Roles, role) {
				u.Roles = append(u.Roles, role)
			}
		}
	}
	return u, nil
}

// value returns the single value of header name, trimmed, or "" when it is absent or name is
// unset. It reports false, and logs, when the header is repeated, too long or holds control
// characters: a proxy never sends those, so someone is probing.
func (b *Backend) value(r *http.Request, name string) (string, bool) {
	if name == "" {
		return "", true
	}
	vs := r.Header[name]
	switch {
	case len(vs) == 0:
		return "", true
	case len(vs) > 1:
		b.refuse(r, "identity header repeated", name)
		return "", false
	case len(vs[0]) > b.maxLen:
		b.refuse(r, "identity header too long", name)
		return "", false
	}
	v := strings.TrimSpace(vs[0])
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			b.refuse(r, "identity header holds control characters", name)
			return "", false
		}
	}
	return v, true
}

func (b *Backend) refuse(r *http.Request, reason, header string) {
	b.log.WarnContext(r.Context(), "proxyauth: request refused", "reason", reason,
		"header", header, "remote_addr", r.RemoteAddr)
}

// Login explains that the proxy authenticates users. A request that already carries valid
// identity headers is sent on to its ?next= page (or the dashboard), which is what happens
// right after the proxy's own login.
func (b *Backend) Login(w http.ResponseWriter, r *http.Request) {
	if u, err := b.Authenticate(r); err == nil && u != nil {
		http.Redirect(w, r, admin.SafeRedirect(r, r.FormValue("next")), http.StatusSeeOther)
		return
	}
	admin.WriteLoginPage(w, r, http.StatusOK, admin.LoginPage{
		Title: "Sign in",
		Paragraphs: []admin.Paragraph{
			{admin.Text("This deployment expects an authenticated proxy header.")},
			{admin.Text("Sign in through the proxy in front of this dashboard; it sends your identity in the "),
				admin.Code(b.headers.User), admin.Text(" header.")},
		},
	})
}

// Logout sends the browser to Config.LogoutURL, or to the admin's login page.
func (b *Backend) Logout(w http.ResponseWriter, r *http.Request) {
	target := b.logoutURL
	if target == "" {
		target = admin.LoginURL(r)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Routes returns nil: the backend needs no routes of its own.
func (b *Backend) Routes() []admin.Route { return nil }

// isLocalPath reports whether l is a path on this host; "//host" and "/\host" are not.
func isLocalPath(l string) bool {
	return strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//") && !strings.HasPrefix(l, "/\\") &&
		!strings.ContainsAny(l, "\r\n\t")
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}
