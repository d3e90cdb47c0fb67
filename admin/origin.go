package admin

import (
	"net/http"
	"strings"
)

// csrfAllowed applies http.CrossOriginProtection to an unsafe request. It compares the Origin
// with the host the browser actually talked to: the forwarded host behind a trusted proxy
// that rewrites Host, and the Host header normalised like an Origin (lower case, no default
// port) otherwise.
func (a *Admin) csrfAllowed(r *http.Request, st *requestState) bool {
	origin := a.expectedOrigin(r, st)
	if host := origin[strings.Index(origin, "://")+3:]; host != r.Host {
		r2 := *r
		r2.Host = host
		r = &r2
	}
	return a.csrf.Check(r) == nil
}

// sameOriginAllowed is AsyncMQ's same-origin rule for unsafe requests of authenticated users:
// the Origin header must be present and name the dashboard's own origin (or a trusted one).
// Unlike CrossOriginProtection it refuses a request without Origin, so a request that a
// browser extension or an old browser sent without one cannot act on a logged-in session.
//
// A script or CI job that sends a bearer token is let through without Origin: what makes CSRF
// possible is a credential the browser adds by itself (a cookie), and no cross-site page can put
// an Authorization header on a form post, or on a fetch without a CORS preflight, while a
// browser sends Origin (or Sec-Fetch-Site) with every unsafe request it makes.
func (a *Admin) sameOriginAllowed(r *http.Request, st *requestState) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return bearerClient(r)
	}
	got, ok := originHeader(o)
	if !ok {
		return false
	}
	return got == a.expectedOrigin(r, st) || a.trusted[got]
}

// expectedOrigin is the dashboard's own origin as the browser sees it: Host and the
// connection's scheme, or X-Forwarded-Host, -Proto and -Port from a trusted proxy. It is
// normalised like a browser's Origin header.
func (a *Admin) expectedOrigin(r *http.Request, st *requestState) string {
	host := a.publicHost(r, st)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if st.trusted {
		if v := strings.ToLower(forwarded(r, "X-Forwarded-Proto")); v == "http" || v == "https" {
			scheme = v
		}
		if v := forwarded(r, "X-Forwarded-Port"); v != "" && isPort(v) {
			if _, port := splitHostPort(host); port == "" {
				host += ":" + v
			}
		}
	}
	return normalOrigin(scheme, host)
}

// publicHost is the host the browser addressed: the X-Forwarded-Host value a trusted proxy
// appended (the right-most), else Host.
func (a *Admin) publicHost(r *http.Request, st *requestState) string {
	if st.trusted {
		if v := forwarded(r, "X-Forwarded-Host"); v != "" {
			return v
		}
	}
	return r.Host
}

// originHeader parses an Origin header ("https://host[:port]"); "null" and anything with a
// path, credentials or a query is not an origin.
func originHeader(o string) (string, bool) {
	i := strings.Index(o, "://")
	if i <= 0 {
		return "", false
	}
	scheme, hostport := o[:i], o[i+3:]
	if hostport == "" || strings.ContainsAny(hostport, "/?#@\\ ") {
		return "", false
	}
	if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return "", false
	}
	return normalOrigin(scheme, hostport), true
}

func isPort(v string) bool {
	if len(v) == 0 || len(v) > 5 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// bearerClient reports whether r is a non-browser client authenticating with a bearer token:
// an "Authorization: Bearer ..." header and neither Origin nor Sec-Fetch-Site.
func bearerClient(r *http.Request) bool {
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(token) != ""
}
