package admin

import "net/http"

const hstsValue = "max-age=31556926; includeSubDomains"

// setSecurityHeaders sets the security headers before the request is served, so every
// response carries them, including redirects and refusals. The handler behind the admin may
// still replace one (a page needing a looser CSP).
func (a *Admin) setSecurityHeaders(h http.Header, tls bool) {
	// One backing array for all values instead of one allocation per header. Each value gets
	// a capacity-one slice, so an Add by a later handler copies rather than overwrites.
	n := 5
	if tls {
		n = 6
	}
	v := make([]string, n)
	v[0], v[1], v[2], v[3], v[4] = a.csp, "DENY", "nosniff", "same-origin", "same-origin"
	h["Content-Security-Policy"] = v[0:1:1]
	h["X-Frame-Options"] = v[1:2:2]
	h["X-Content-Type-Options"] = v[2:3:3]
	h["Referrer-Policy"] = v[3:4:4]
	h["Cross-Origin-Opener-Policy"] = v[4:5:5]
	if tls {
		// HSTS over plain HTTP is ignored by browsers and would pin a host that may not have
		// TLS at all.
		v[5] = hstsValue
		h["Strict-Transport-Security"] = v[5:6:6]
	}
}
