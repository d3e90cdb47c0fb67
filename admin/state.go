package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/alexedwards/scs/v2"
)

// requestState is the context the admin gives every request it serves. It answers the admin's
// context keys itself, so one allocation carries the request info, the stripped URL, the
// session manager and the admitted user, instead of a context.WithValue per value.
type requestState struct {
	context.Context
	info    requestInfo
	url     url.URL
	trusted bool
	// admin is the Admin serving the request, for StreamContext and Session.Destroy.
	admin   *Admin
	session *scs.SessionManager
	// user is set by the gate before the request is passed on, and never changed after.
	user *User
}

type stateKey struct{}

func (s *requestState) Value(key any) any {
	switch key.(type) {
	case requestInfoKey:
		return &s.info
	case stateKey:
		return s
	case userKey:
		if s.user != nil {
			return s.user
		}
	case sessionKey:
		if s.session != nil {
			return s.session
		}
	}
	return s.Context.Value(key)
}

func stateFrom(r *http.Request) *requestState {
	st, _ := r.Context().Value(stateKey{}).(*requestState)
	return st
}

// newState strips URLPrefix from the request path and works out the request's public base
// path and transport. It reports false when the path is outside URLPrefix.
func (a *Admin) newState(r *http.Request) (*requestState, bool) {
	p, raw := r.URL.Path, r.URL.RawPath
	if !strings.HasPrefix(p, "/") {
		// http.StripPrefix("/outer/") leaves "asyncmq/..." behind.
		p = "/" + p
		if raw != "" {
			raw = "/" + raw
		}
	}
	child, ok := stripPrefix(p, a.prefix)
	if !ok {
		return nil, false
	}
	var rawChild string
	if raw != "" {
		if rawChild, ok = stripPrefix(raw, a.prefix); !ok {
			// The prefix was spelled with escapes ("/%61syncmq"); http.StripPrefix refuses
			// these too rather than guess.
			return nil, false
		}
	}

	st := &requestState{Context: r.Context(), url: *r.URL, admin: a}
	st.url.Path, st.url.RawPath = child, rawChild
	st.info.loginPath = a.loginPath
	st.trusted = a.proxies.Contains(r.RemoteAddr)
	st.info.tls = r.TLS != nil || st.trusted && strings.EqualFold(forwarded(r, "X-Forwarded-Proto"), "https")

	var fwd string
	if st.trusted {
		fwd = forwardedPrefix(forwarded(r, "X-Forwarded-Prefix"))
	}
	outer := outerPrefix(r)
	if fwd == "" && outer == "" {
		st.info.base = a.prefix
	} else {
		st.info.base = fwd + outer + a.prefix
	}
	return st, true
}

func stripPrefix(p, prefix string) (string, bool) {
	switch {
	case prefix == "":
		return p, true
	case p == prefix:
		return "", true
	case len(p) > len(prefix) && p[len(prefix)] == '/' && p[:len(prefix)] == prefix:
		return p[len(prefix):], true
	}
	return "", false
}

// outerPrefix recovers what an outer http.StripPrefix removed: the part of the original
// request-target in front of the path the admin was handed. It returns "" when the two do not
// line up, or when the leftover is not a plain path, rather than trust it.
func outerPrefix(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" {
		return ""
	}
	if uri[0] != '/' {
		// Absolute-form request-target: "http://host/path".
		i := strings.Index(uri, "://")
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(uri[i+3:], '/')
		if j < 0 {
			return ""
		}
		uri = uri[i+3+j:]
	}
	if q := strings.IndexByte(uri, '?'); q >= 0 {
		uri = uri[:q]
	}
	esc := r.URL.EscapedPath()
	if !strings.HasPrefix(esc, "/") {
		esc = "/" + esc
	}
	if len(uri) <= len(esc) || !strings.HasSuffix(uri, esc) {
		return ""
	}
	outer := uri[:len(uri)-len(esc)]
	if !isPublicPrefix(outer) {
		return ""
	}
	return outer
}

// forwardedPrefix returns a trusted proxy's X-Forwarded-Prefix when it is a plain path.
func forwardedPrefix(v string) string {
	v = strings.TrimRight(v, "/")
	if !isPublicPrefix(v) {
		return ""
	}
	return v
}

// isPublicPrefix reports whether p is safe to put in front of every URL the admin emits: a
// path starting with "/" without a trailing slash, empty, "." or ".." segments, and made of
// unreserved characters and a few harmless delimiters. Quotes, angle brackets, backslashes,
// controls and percent escapes (which could hide "..", "/" or a backslash) are refused, so a
// prefix can neither break out of a header or an HTML attribute nor point off the dashboard.
func isPublicPrefix(p string) bool {
	if len(p) < 2 || len(p) > 1024 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !isUnreserved(c) && !strings.ContainsRune(":@!$*+,;=", rune(c)) {
				return false
			}
		}
	}
	return true
}

// forwarded returns the value a trusted proxy gave header name: the right-most comma-separated
// element of its last line, trimmed. Proxies append to these headers, so values further left
// came from whoever talked to the proxy, which may be the client itself.
func forwarded(r *http.Request, name string) string {
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return ""
	}
	v := vs[len(vs)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}
