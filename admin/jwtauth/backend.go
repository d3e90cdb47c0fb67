package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

// Backend is the JWT bearer admin.AuthBackend. Identity is stateless: every request carries its
// token, and logging out only clears the optional cookie.
type Backend struct {
	v *Verifier
}

var _ admin.AuthBackend = (*Backend)(nil)

// New returns a Backend for cfg; see NewVerifier. Close its Verifier when done with a JWKS.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	v, err := NewVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Backend{v: v}, nil
}

// Verifier returns the Verifier the backend authenticates with.
func (b *Backend) Verifier() *Verifier { return b.v }

// errNoToken is returned for anonymous requests; it is allocated once because every anonymous
// request sees it.
var errNoToken = fmt.Errorf("jwtauth: no bearer token: %w", admin.ErrNoCredentials)

// Authenticate returns the user a request's token names: ID from Config.UserClaim, Name from
// Config.NameClaim (or the ID), IsAdmin from Config.AdminClaim and Roles from Config.RolesClaim,
// with every claim in Claims. A missing or refused token yields an error wrapping
// admin.ErrNoCredentials; the reason for a refusal is logged at debug level.
//
// The returned User is shared by requests presenting the same token while it is cached; treat
// it as read-only.
func (b *Backend) Authenticate(r *http.Request) (*admin.User, error) {
	tok, ok := b.v.ExtractToken(r)
	if !ok {
		return nil, errNoToken
	}
	t, err := b.v.Verify(r.Context(), tok)
	if err != nil {
		// The Enabled check keeps refusals allocation-free when debug logging is off: a flood
		// of bad tokens should cost as little as possible.
		if errors.Is(err, ErrInvalidToken) && b.v.log.Enabled(r.Context(), slog.LevelDebug) {
			b.v.log.DebugContext(r.Context(), "jwtauth: token refused", "reason", err.Error())
		}
		return nil, err
	}
	return t.user, nil
}

// Routes returns nil: the backend needs no routes beyond login and logout.
func (b *Backend) Routes() []admin.Route { return nil }

// maxLoginForm bounds the login form body: the token plus a return path and some slack.
func (b *Backend) maxLoginForm() int64 { return int64(b.v.s.MaxTokenSize) + 8<<10 }

// maxCookieToken is the largest token the login form stores: browsers drop cookies over 4096
// bytes, name and attributes included.
const maxCookieToken = 3800

// Login serves the login page. GET explains that the dashboard expects a bearer token in
// Config.HeaderName. When Config.CookieName is set the page also has a form to paste a token;
// POST checks it and, when valid, stores it in that cookie (HttpOnly, SameSite=Strict, Secure
// over TLS, scoped to the dashboard path, expiring with the token) and redirects with 303 to the
// form's "next" path, if it is inside the dashboard, or to the dashboard root. A refused token
// re-renders the form with status 401 and a message that does not say why.
func (b *Backend) Login(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		b.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"))
	case r.Method == http.MethodPost && b.v.s.CookieName != "":
		b.loginPost(w, r)
	default:
		allow := "GET, HEAD"
		if b.v.s.CookieName != "" {
			allow += ", POST"
		}
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (b *Backend) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, b.maxLoginForm())
	if err := r.ParseForm(); err != nil {
		b.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.", "")
		return
	}
	next := r.PostForm.Get("next")
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if t, ok := parseScheme(tok, b.v.s.Scheme); ok {
		tok = t
	}
	t, err := b.v.Verify(r.Context(), tok)
	if err != nil {
		b.v.log.DebugContext(r.Context(), "jwtauth: pasted token refused", "reason", err.Error())
		b.renderLogin(w, r, http.StatusUnauthorized, "That token was not accepted.", next)
		return
	}
	if len(tok) > maxCookieToken {
		b.renderLogin(w, r, http.StatusUnprocessableEntity, "That token is valid but too large for a browser cookie; send it in the request header instead.", next)
		return
	}
	c := b.cookie(r, tok)
	if !t.ExpiresAt.IsZero() {
		c.Expires = t.ExpiresAt
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, admin.SafeRedirect(r, next), http.StatusSeeOther)
}

func (b *Backend) cookie(r *http.Request, value string) *http.Cookie {
	return &http.Cookie{
		Name:     b.v.s.CookieName,
		Value:    value,
		Path:     admin.BasePath(r) + "/",
		HttpOnly: true,
		Secure:   admin.RequestIsTLS(r),
		SameSite: http.SameSiteStrictMode,
	}
}

// Logout clears the token cookie, when Config.CookieName is set, and redirects with 303 to the
// login page. Bearer tokens are stateless: one sent in the header stays valid until it expires.
//
// A GET that the browser marks as started by another site (Sec-Fetch-Site "cross-site" or
// "same-site") is not acted on: a link or an image elsewhere must not sign the user out. It gets
// a confirmation form instead, whose POST the admin's cross-origin protection guards. A GET the
// user started (the dashboard's own link, a typed URL, or a client that sends no fetch
// metadata) signs out at once, as before.
func (b *Backend) Logout(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			w.Header().Set("Cache-Control", "no-store")
			admin.WriteLoginPage(w, r, http.StatusOK, admin.LoginPage{
				Title:      "Sign out",
				Paragraphs: []admin.Paragraph{{admin.Text("Another site sent you here. Sign out of the dashboard?")}},
				Form:       &admin.LoginForm{Action: admin.BasePath(r) + "/logout", Submit: "Sign out"},
			})
			return
		}
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if b.v.s.CookieName != "" {
		c := b.cookie(r, "")
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
		http.SetCookie(w, c)
	}
	http.Redirect(w, r, admin.LoginURL(r), http.StatusSeeOther)
}

// renderLogin explains which header carries the token and, when Config.CookieName is set,
// offers the form to paste one.
func (b *Backend) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	header := b.v.s.HeaderName
	p := admin.LoginPage{
		Title: "Sign in",
		Paragraphs: []admin.Paragraph{{
			admin.Text("This deployment expects a valid token in the "), admin.Code(header),
			admin.Text(" request header: "), admin.Code(header + ": " + b.v.s.Scheme + " <token>"),
			admin.Text(" (accepted algorithms: " + strings.Join(b.v.allowedAlgorithms(), ", ") + ")."),
		}},
		Error: msg,
	}
	if b.v.s.CookieName != "" {
		p.Form = &admin.LoginForm{
			Action: admin.LoginURL(r),
			Next:   next,
			Fields: []admin.LoginField{{
				Name: "token", Label: "Or paste a token to keep it in a cookie for this browser:",
				Type: "textarea", Autocomplete: "off", Verbatim: true,
			}},
		}
	}
	admin.WriteLoginPage(w, r, status, p)
}
