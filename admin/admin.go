package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// Admin is the mountable operations console: the dashboard behind security headers, CORS,
// CSRF protection, sessions and the authentication gate. Build one with New; it is safe for
// concurrent use and cannot be reconfigured.
//
// For every request under URLPrefix it answers, in this order:
//   - 421 for a Host that Config.AllowedHosts does not allow (except the probes below);
//   - GET /health and /ready (exact paths), outside everything else so probes always work, and
//     GET /assets/admin.css, the stylesheet of the login pages (see WriteLoginPage);
//   - CORS preflights from allowed origins;
//   - 403 for unsafe requests a browser marks cross-origin (http.CrossOriginProtection),
//     whether or not login is enabled;
//   - the login and logout pages and Backend.Routes, outside the gate;
//   - Allowlist paths, outside the gate;
//   - everything else through the gate (see New), then Config.Handler.
type Admin struct {
	prefix        string
	loginPath     string
	allowlist     []string
	login         bool
	backend       AuthBackend
	routes        *http.ServeMux
	dashboard     http.Handler
	requireAdmin  bool
	requiredRoles []string
	sameOrigin    bool
	proxies       ProxyList
	security      bool
	csp           string
	sessions      *sessions
	cors          *cors
	csrf          *http.CrossOriginProtection
	trusted       map[string]bool
	hosts         *hostList
	maxBody       int64
	streamRecheck time.Duration
	streams       streamRegistry
	ready         func(context.Context) error
	log           *slog.Logger
	handler       http.Handler
}

// New validates cfg and builds the admin. Every error names the setting at fault and matches
// ErrInvalidConfig.
//
// With EnableLogin, each request outside the allowlist goes through the gate:
//   - no user (Backend.Authenticate returned an error wrapping ErrNoCredentials, or no user) →
//     303 See Other to <BasePath><LoginPath>?next=<the public path and query>; with
//     "HX-Request: true", 401 "Authentication required" and HX-Redirect set to that URL;
//   - any other error from Authenticate → 503 "Authentication backend unavailable", logged;
//   - a user who is not an admin while RequireAdmin, or who holds none of RequiredRoles →
//     403 "Dashboard user is not authorized";
//   - an unsafe method whose Origin is not the dashboard's own while EnforceSameOrigin →
//     403 "Cross-origin dashboard request rejected";
//   - otherwise the request reaches Config.Handler and UserFromContext returns the user.
func New(cfg Config) (*Admin, error) {
	a := &Admin{
		login:         cfg.EnableLogin,
		backend:       cfg.Backend,
		dashboard:     cfg.Handler,
		requireAdmin:  on(cfg.RequireAdmin),
		sameOrigin:    on(cfg.EnforceSameOrigin),
		security:      on(cfg.IncludeSecurity),
		csp:           cfg.ContentSecurityPolicy,
		ready:         cfg.Ready,
		log:           cfg.Logger,
		csrf:          http.NewCrossOriginProtection(),
		trusted:       map[string]bool{},
		requiredRoles: slices.Clone(cfg.RequiredRoles),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.dashboard == nil {
		a.dashboard = http.HandlerFunc(builtinDashboard)
	}
	if a.csp == "" {
		a.csp = DefaultContentSecurityPolicy
	}
	if strings.ContainsAny(a.csp, "\r\n") {
		return nil, configError("Config.ContentSecurityPolicy must be a single line")
	}

	if cfg.EnableLogin && cfg.Backend == nil {
		return nil, configError("Config.Backend is required when EnableLogin is true")
	}
	if !cfg.EnableLogin && cfg.Backend != nil {
		return nil, configError("Config.Backend is set but Config.EnableLogin is false; set EnableLogin to put the dashboard behind the backend")
	}

	prefix := cfg.URLPrefix
	if prefix == "" {
		prefix = defaultURLPrefix
	}
	var ok bool
	if a.prefix, ok = cleanMountPath(prefix); !ok {
		return nil, configError(`Config.URLPrefix %q must be "/" or a path like "/asyncmq" of letters, digits and "-._~"`, cfg.URLPrefix)
	}
	loginPath := cfg.LoginPath
	if loginPath == "" {
		loginPath = defaultLoginPath
	}
	if a.loginPath, ok = cleanMountPath(loginPath); !ok || a.loginPath == "" {
		return nil, configError(`Config.LoginPath %q must be a path like "/login" of letters, digits and "-._~"`, cfg.LoginPath)
	}
	allow := cfg.Allowlist
	if allow == nil {
		allow = defaultAllowlist
	}
	for _, p := range allow {
		c, ok := cleanMountPath(p)
		if !ok || c == "" {
			return nil, configError(`Config.Allowlist entry %q must be a path like "/static" of letters, digits and "-._~"`, p)
		}
		a.allowlist = append(a.allowlist, c)
	}
	for _, role := range a.requiredRoles {
		if strings.TrimSpace(role) == "" {
			return nil, configError("Config.RequiredRoles must not contain an empty role")
		}
	}

	var err error
	if a.proxies, err = ParseTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, configError("Config.TrustedProxies: %v", err)
	}
	switch a.streamRecheck = cfg.StreamRecheckInterval; {
	case a.streamRecheck == 0:
		a.streamRecheck = defaultStreamRecheck
	case a.streamRecheck < 0:
		return nil, configError("Config.StreamRecheckInterval %s must not be negative", cfg.StreamRecheckInterval)
	}
	switch a.maxBody = cfg.MaxBodyBytes; {
	case a.maxBody == 0:
		a.maxBody = defaultMaxBody
	case a.maxBody < 0:
		return nil, configError("Config.MaxBodyBytes %d must not be negative", cfg.MaxBodyBytes)
	}
	if cfg.AllowedHosts != nil {
		var bad string
		if a.hosts, bad, ok = parseAllowedHosts(cfg.AllowedHosts); !ok {
			return nil, configError(`Config.AllowedHosts entry %q must be a host name or IP address, optionally with a port ("ops.example", "10.0.0.5:8000"), or "*"`, bad)
		}
	}
	for _, o := range cfg.TrustedOrigins {
		if err := a.trustOrigin(o); err != nil {
			return nil, configError("Config.TrustedOrigins entry %q must be an origin like \"https://ops.example\"", o)
		}
	}
	if cfg.IncludeCORS {
		if a.cors, err = newCORS(cfg.CORS); err != nil {
			return nil, err
		}
		for o := range a.cors.origins {
			if err := a.trustOrigin(o); err != nil {
				return nil, configError("Config.CORS.AllowOrigins entry %q: %v", o, err)
			}
		}
	}

	if on(cfg.IncludeSession) {
		sc := cfg.Session
		// A backend whose sign-in comes back from another site (an identity provider's redirect
		// to the callback) needs the cookie on that top-level navigation, which SameSite=Strict
		// withholds; it says so, and gets Lax unless the configuration chose.
		if ss, ok := cfg.Backend.(interface{ SessionSameSite() http.SameSite }); ok && sc.SameSite == 0 {
			sc.SameSite = ss.SessionSameSite()
		}
		if a.sessions, err = newSessions(sc, a.log); err != nil {
			return nil, err
		}
	} else if rs, ok := cfg.Backend.(interface{ RequiresSession() bool }); ok && rs.RequiresSession() {
		return nil, configError("Config.IncludeSession must stay on: the %T backend keeps logins in the session", cfg.Backend)
	}

	if a.login {
		if err := a.mountBackendRoutes(cfg.Backend.Routes()); err != nil {
			return nil, err
		}
	}
	if a.sessions != nil {
		a.sessions.wrap(http.HandlerFunc(a.route))
	}
	a.handler = http.HandlerFunc(a.serve)
	return a, nil
}

func (a *Admin) trustOrigin(o string) error {
	n, ok := parseOrigin(o)
	if !ok {
		return fmt.Errorf("not an origin")
	}
	if err := a.csrf.AddTrustedOrigin(n); err != nil {
		return err
	}
	a.trusted[n] = true
	return nil
}

// mountBackendRoutes validates the backend's extra routes and registers them on a private mux.
// Patterns ending in "/" are refused because ServeMux would answer "/x" with a redirect to
// "/x/" computed from the prefix-relative path, which is wrong once the admin is mounted.
func (a *Admin) mountBackendRoutes(routes []Route) (err error) {
	if len(routes) == 0 {
		return nil
	}
	a.routes = http.NewServeMux()
	for _, rt := range routes {
		p := rt.Pattern
		if i := strings.IndexByte(p, ' '); i >= 0 {
			p = strings.TrimLeft(p[i+1:], " \t")
		}
		switch {
		case rt.Handler == nil:
			return configError("Backend route %q has a nil Handler", rt.Pattern)
		case !strings.HasPrefix(p, "/"):
			return configError("Backend route %q must be a path pattern relative to the prefix, like \"GET /oauth/callback\"", rt.Pattern)
		case strings.HasSuffix(p, "/"):
			return configError("Backend route %q must name an exact path, not a subtree ending in \"/\"", rt.Pattern)
		case p == a.loginPath || p == logoutPath || p == healthPath || p == readyPath:
			return configError("Backend route %q collides with the admin's own %s route", rt.Pattern, p)
		}
		if err := registerRoute(a.routes, rt); err != nil {
			return configError("Backend route %q: %v", rt.Pattern, err)
		}
	}
	return nil
}

// registerRoute turns ServeMux's panic on a bad or conflicting pattern into an error.
func registerRoute(mux *http.ServeMux, rt Route) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mux.Handle(rt.Pattern, rt.Handler)
	return nil
}

// Handler returns the admin as an http.Handler. It serves paths under URLPrefix and answers
// 404 elsewhere, so it can be mounted at "/" of a mux, behind http.StripPrefix, or behind a
// proxy that sends X-Forwarded-Prefix (trusted proxies only).
func (a *Admin) Handler() http.Handler { return a.handler }

// Mount registers the admin on mux at URLPrefix (both "/asyncmq" and "/asyncmq/"), the way
// AsyncMQ's include_in does. Like ServeMux.Handle it panics if those patterns are taken.
func (a *Admin) Mount(mux *http.ServeMux) {
	if a.prefix == "" {
		mux.Handle("/", a.handler)
		return
	}
	mux.Handle(a.prefix, a.handler)
	mux.Handle(a.prefix+"/", a.handler)
}

// serve is the admin's outer layer: request state, headers, probes, CORS, CSRF and sessions.
func (a *Admin) serve(w http.ResponseWriter, r *http.Request) {
	st, ok := a.newState(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r = r.WithContext(st)
	r.URL = &st.url
	if a.security {
		a.setSecurityHeaders(w.Header(), st.info.tls)
	}

	if a.hosts != nil && st.url.Path != healthPath && st.url.Path != readyPath && !a.hosts.allows(a.publicHost(r, st)) {
		a.refuse(r, "host not allowed")
		writeText(w, http.StatusMisdirectedRequest, msgMisdirected)
		return
	}
	switch st.url.Path {
	case "":
		// "/asyncmq" itself: relative links in the dashboard need the trailing slash.
		target := st.info.base + "/"
		if q := st.url.RawQuery; q != "" && len(q) <= maxNextLen && isPlainQuery(q) {
			target += "?" + q
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	case healthPath:
		serveHealth(w, r)
		return
	case readyPath:
		a.serveReady(w, r)
		return
	case loginStylesheetPath:
		// The login pages' own stylesheet, outside the gate and the session (loginpage.go).
		serveLoginStylesheet(w, r)
		return
	}

	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	}
	if a.cors != nil && a.cors.handle(w, r) {
		return
	}
	if !isSafeMethod(r.Method) && !a.csrfAllowed(r, st) {
		a.refuse(r, "cross-origin request")
		writeText(w, http.StatusForbidden, msgCrossOrigin)
		return
	}
	if a.sessions != nil {
		a.sessions.serve(w, r, st)
		return
	}
	a.route(w, r)
}

// route dispatches inside the session: login and backend routes, the allowlist, the gate.
func (a *Admin) route(w http.ResponseWriter, r *http.Request) {
	if a.login {
		st := stateFrom(r)
		p := r.URL.Path
		switch p {
		case a.loginPath:
			if allowLoginMethod(w, r) {
				a.backend.Login(w, r)
			}
			return
		case logoutPath:
			if allowLoginMethod(w, r) {
				a.backend.Logout(w, r)
			}
			return
		}
		clean := isCleanPath(p)
		if a.routes != nil && clean && r.Method != http.MethodConnect {
			if _, pattern := a.routes.Handler(r); pattern != "" {
				a.routes.ServeHTTP(w, r)
				return
			}
		}
		if !clean || !a.allowlisted(p) {
			if !a.gate(w, r, st) {
				return
			}
		}
	}
	a.dashboard.ServeHTTP(w, r)
}

func allowLoginMethod(w http.ResponseWriter, r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true
	}
	w.Header().Set("Allow", "GET, HEAD, POST")
	writeText(w, http.StatusMethodNotAllowed, "Method not allowed")
	return false
}

func (a *Admin) allowlisted(p string) bool {
	for _, e := range a.allowlist {
		if p == e || len(p) > len(e) && p[len(e)] == '/' && p[:len(e)] == e {
			return true
		}
	}
	return false
}

// isCleanPath reports whether p has no empty, "." or ".." segments, so that prefix matching
// on it means what it says.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || (c+"/" == p && c != "/")
}

// isPlainQuery reports whether a raw query can be echoed into a Location header as is: visible
// ASCII without quotes, angle brackets or backslashes (net/http lets some of them through).
func isPlainQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' {
			return false
		}
	}
	return true
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// refuse logs a refused request at debug level: refusals are routine (scanners, expired
// logins) and the client already got the reason. Only the method and public path are logged,
// never headers, which may hold credentials.
func (a *Admin) refuse(r *http.Request, reason string) {
	if a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.DebugContext(r.Context(), "admin: request refused", "reason", reason,
			"method", r.Method, "path", BasePath(r)+r.URL.EscapedPath(), "remote_addr", r.RemoteAddr)
	}
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
