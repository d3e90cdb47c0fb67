package admin

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// sessions holds one scs manager per transport: they share the store but differ in cookie
// name and Secure flag, because the "__Host-" name only works on Secure cookies and a Secure
// cookie is never sent back over plain HTTP.
type sessions struct {
	plain, tls               *scs.SessionManager
	plainHandler, tlsHandler http.Handler
}

func newSessions(c SessionConfig, log *slog.Logger) (*sessions, error) {
	name := c.CookieName
	if name == "" {
		name = defaultCookieName
	}
	if !isToken(name) || strings.ContainsAny(name, "%") {
		return nil, configError("Config.Session.CookieName %q must be letters, digits and \"-._~!#$&'*+^`|\"", c.CookieName)
	}
	hasPrefix := strings.HasPrefix(name, "__Host-") || strings.HasPrefix(name, "__Secure-")
	if hasPrefix && !c.Secure {
		return nil, configError("Config.Session.CookieName %q needs Config.Session.Secure: browsers drop prefixed cookies that are not Secure", name)
	}
	idle, life := c.IdleTimeout, c.Lifetime
	if idle == 0 {
		idle = defaultIdleTimeout
	}
	if life == 0 {
		life = defaultLifetime
	}
	if idle < 0 || life < 0 {
		return nil, configError("Config.Session.IdleTimeout and Config.Session.Lifetime must not be negative")
	}
	sameSite := c.SameSite
	switch sameSite {
	case 0:
		sameSite = http.SameSiteStrictMode
	case http.SameSiteDefaultMode, http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if !c.Secure {
			return nil, configError("Config.Session.SameSite None needs Config.Session.Secure: browsers drop SameSite=None cookies that are not Secure")
		}
	default:
		return nil, configError("Config.Session.SameSite %d is not an http.SameSite value", c.SameSite)
	}
	store := c.Store
	if store == nil {
		store = memstore.New()
	}

	mk := func(name string, secure bool) *scs.SessionManager {
		m := scs.New()
		m.Store = store
		m.IdleTimeout = idle
		m.Lifetime = life
		m.HashTokenInStore = true
		m.Cookie.Name = name
		m.Cookie.HttpOnly = true
		m.Cookie.Path = "/"
		m.Cookie.SameSite = sameSite
		m.Cookie.Secure = secure
		m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
			log.ErrorContext(r.Context(), "admin: session store failed", "method", r.Method, "err", err)
			writeText(w, http.StatusServiceUnavailable, "Session store unavailable")
		}
		return m
	}
	tlsName := name
	if !hasPrefix {
		tlsName = "__Host-" + name
	}
	return &sessions{plain: mk(name, c.Secure), tls: mk(tlsName, true)}, nil
}

// scopePath reports whether a cookie of this name may be scoped to the mount path: browsers
// refuse a "__Host-" cookie whose Path is not "/".
func scopePath(name string) bool { return !strings.HasPrefix(name, "__Host-") }

func (s *sessions) wrap(h http.Handler) {
	s.plainHandler = s.plain.LoadAndSave(h)
	s.tlsHandler = s.tls.LoadAndSave(h)
}

// serve loads the session for r, runs the wrapped handler and saves the session. The cookie is
// scoped to the admin's public path, so other applications on the host never receive it; only
// a "__Host-" cookie (the default over TLS) keeps Path=/, which that prefix requires and which
// binds the cookie to the exact host, a stronger guarantee than a path, since paths do not
// isolate applications of one origin from each other (RFC 6265 §8.5).
func (s *sessions) serve(w http.ResponseWriter, r *http.Request, st *requestState) {
	m, h := s.plain, s.plainHandler
	if st.info.tls {
		m, h = s.tls, s.tlsHandler
	}
	st.session = m
	if !scopePath(m.Cookie.Name) {
		h.ServeHTTP(w, r)
		return
	}
	sw := &scopedCookieWriter{ResponseWriter: w, prefix: m.Cookie.Name + "=", path: "Path=" + st.info.base + "/"}
	h.ServeHTTP(sw, r)
	// The session manager writes its cookie after the handler when the handler wrote nothing;
	// net/http then sends the header as it stands.
	sw.scope()
}

// scopedCookieWriter rewrites the Path of the session cookie the session manager sets (always
// "/") to the request's public mount path, just before the header is sent.
type scopedCookieWriter struct {
	http.ResponseWriter
	prefix, path string
	done         bool
}

func (w *scopedCookieWriter) scope() {
	if w.done {
		return
	}
	w.done = true
	cs := w.ResponseWriter.Header()["Set-Cookie"]
	for i, c := range cs {
		if !strings.HasPrefix(c, w.prefix) {
			continue
		}
		attrs := strings.Split(c, "; ")
		for j, a := range attrs {
			if j > 0 && a == "Path=/" {
				attrs[j] = w.path
			}
		}
		cs[i] = strings.Join(attrs, "; ")
	}
}

func (w *scopedCookieWriter) WriteHeader(code int) {
	w.scope()
	w.ResponseWriter.WriteHeader(code)
}

func (w *scopedCookieWriter) Write(b []byte) (int, error) {
	w.scope()
	return w.ResponseWriter.Write(b)
}

// FlushError scopes the cookie before a flush sends the header; http.ResponseController
// prefers it to unwrapping.
func (w *scopedCookieWriter) FlushError() error {
	w.scope()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *scopedCookieWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
