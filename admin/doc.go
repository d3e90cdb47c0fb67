// Package admin is the mountable asyncmq operations console: an http.Handler that puts the
// dashboard behind an authentication gate, sessions, CORS, CSRF protection and strict security
// headers. Authentication is pluggable through AuthBackend; the backends shipped with asyncmq live
// in the subpackages jwtauth, dbauth, proxyauth, passwordauth and oidcauth.
//
// Build an Admin with New, then Mount it on a ServeMux or serve its Handler. The dashboard
// (Config.Handler) sees paths relative to the mount point and reads what the admin learnt about
// the request through BasePath, LoginURL, RequestIsTLS, UserFromContext and
// SessionFromRequest; it builds redirects from request input with SafeRedirect.
//
// The admin is closed by default: security headers on, CSRF protection on every unsafe
// request, same-origin enforcement for logged-in users, admins only, no CORS, and forwarded
// headers believed only from Config.TrustedProxies (their right-most values). Set
// Config.AllowedHosts whenever the admin listens on loopback or behind a proxy that does not
// check Host: it is the defence against DNS rebinding. Long-lived responses should run under
// StreamContext, which ends them when their user no longer authenticates.
package admin
