package admin

import "net/http"

// requestInfo is what the admin handler learns about a request before the gate runs; auth
// backends read it through BasePath, LoginURL, SafeRedirect and RequestIsTLS.
type requestInfo struct {
	// base is the public path the admin is mounted at for this request, without a trailing slash:
	// outer prefixes (http.StripPrefix, X-Forwarded-Prefix from a trusted proxy) plus URLPrefix.
	base      string
	loginPath string
	tls       bool
}

// requestInfoKey finds the requestInfo in a request's context; the admin's requestState
// answers it (state.go).
type requestInfoKey struct{}

func infoFrom(r *http.Request) *requestInfo {
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{loginPath: "/login"}
}

// BasePath returns the public path the admin is mounted at for this request, without a trailing
// slash: "/asyncmq", "/operations/asyncmq", or "" when mounted at the root.
func BasePath(r *http.Request) string { return infoFrom(r).base }

// LoginURL returns the public path of the login page for this request.
func LoginURL(r *http.Request) string { return infoFrom(r).base + infoFrom(r).loginPath }

// RequestIsTLS reports whether the client reached the admin over TLS: the connection itself, or a
// trusted proxy's X-Forwarded-Proto.
func RequestIsTLS(r *http.Request) bool { return infoFrom(r).tls || r.TLS != nil }

// SafeRedirect returns next when it is a path inside the dashboard (starting with BasePath + "/")
// that every browser resolves to that same path, and the dashboard root (BasePath + "/")
// otherwise. Use it for every redirect whose target came from the request, such as a login
// form's next field. It refuses "//host", "/\host", schemes, control characters, encoded slashes,
// dot segments and non-ASCII bytes; see the tests for the full list of attacks.
func SafeRedirect(r *http.Request, next string) string {
	base := BasePath(r)
	if isSafeNext(base, next) {
		return next
	}
	return base + "/"
}
