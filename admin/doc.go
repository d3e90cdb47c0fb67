// Package admin is the mountable asyncmq operations console: an http.Handler that puts the
// dashboard behind an authentication gate, sessions, CORS, CSRF protection and strict security
// headers. Authentication is pluggable through AuthBackend; the backends shipped with asyncmq live
// in the subpackages jwtauth, dbauth, proxyauth and passwordauth.
package admin
