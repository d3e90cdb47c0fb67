package passwordauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/users"
)

// Limits on the login form. A body over maxForm is refused before parsing; a username over
// maxUsername cannot exist (users.MaxIDLen) and is refused like any unknown one.
const (
	maxForm     = 16 << 10
	maxUsername = users.MaxIDLen
)

// Messages shown on the login page. msgInvalid is the one answer for every refused
// credential, whatever the reason, so that the page cannot tell which usernames exist.
const (
	msgInvalid     = "Invalid username or password."
	msgMissing     = "Enter your username and password."
	msgBadForm     = "The form could not be read."
	msgThrottled   = "Too many sign-in attempts. Try again later."
	msgBusy        = "The server is busy. Try again in a few seconds."
	msgUnavailable = "Sign-in is temporarily unavailable."
)

// Login serves the login form (GET, HEAD) and checks it (POST). A successful sign-in renews the
// session ID, records the user in the session and redirects with 303 to the form's "next" path
// when admin.SafeRedirect accepts it, else to the dashboard root. Refusals re-render the form:
// 401 with one message for any wrong credential, 429 with Retry-After when throttled, 503 with
// Retry-After when the server is saturated or the store fails, 400 for an unreadable form.
func (b *Backend) Login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		b.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"))
	case http.MethodPost:
		b.loginPost(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}

func (b *Backend) loginPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := admin.SessionFromRequest(r)
	if sess == nil {
		b.log.ErrorContext(ctx, "passwordauth: sign-in without a session; enable admin.Config.IncludeSession")
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnavailable, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		b.renderLogin(w, r, http.StatusBadRequest, msgBadForm, "")
		return
	}
	next := r.PostForm.Get("next")
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || password == "" {
		b.renderLogin(w, r, http.StatusUnauthorized, msgMissing, next)
		return
	}

	// Throttle before any store query or hashing: a refused attempt must cost almost nothing.
	now := b.now()
	client, userKey := b.clientKey(r), usernameKey(username)
	if wait := b.perUser.available(userKey, now); wait > 0 {
		b.throttled(w, r, "username", username, client, wait, next)
		return
	}
	if wait := b.perClient.take(client, now); wait > 0 {
		b.throttled(w, r, "client", username, client, wait, next)
		return
	}

	var u *users.User
	if len(username) <= maxUsername && utf8.ValidString(username) {
		var err error
		u, err = b.store.Get(ctx, username)
		if err != nil && !errors.Is(err, users.ErrUserNotFound) {
			b.log.ErrorContext(ctx, "passwordauth: sign-in: load user", "user", username, "err", err)
			w.Header().Set("Retry-After", "5")
			b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnavailable, next)
			return
		}
	}
	if u != nil && u.ID != username {
		// The store matched another spelling (a case-insensitive column): the attempt counts
		// against the account it reached.
		userKey = strings.Clone(u.ID)
		if wait := b.perUser.available(userKey, now); wait > 0 {
			b.throttled(w, r, "username", username, client, wait, next)
			return
		}
	}
	hash := b.dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}

	if !b.acquireHashSlot(ctx) {
		b.log.WarnContext(ctx, "passwordauth: sign-in refused: every hashing slot busy", "client", client)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(b.hashWait)))
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgBusy, next)
		return
	}
	if ok := b.checkPassword(r, u, username, password, hash); !ok {
		b.perUser.spend(userKey, now)
		b.log.InfoContext(ctx, "passwordauth: sign-in failed", "user", username, "client", client)
		b.renderLogin(w, r, http.StatusUnauthorized, msgInvalid, next)
		return
	}
	// A new session ID at the privilege change, so a session ID planted before sign-in is
	// worthless after it.
	if err := sess.RenewToken(); err != nil {
		b.log.ErrorContext(ctx, "passwordauth: sign-in: renew session", "user", u.ID, "err", err)
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnavailable, next)
		return
	}
	sess.PutString(sessionUserKey, u.ID)
	sess.PutString(sessionPasswordKey, fingerprint(u.PasswordHash))
	b.log.InfoContext(ctx, "passwordauth: signed in", "user", u.ID, "client", client)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, admin.SafeRedirect(r, next), http.StatusSeeOther)
}

// checkPassword reports whether password signs u in, checking it against hash (u's, or the
// dummy) and upgrading u's hash when the Hasher asks for it. It runs in the hashing slot the
// caller acquired and releases it on return, even if the Store panics, so that a panic cannot
// leave the slot taken and every later sign-in answered 503.
func (b *Backend) checkPassword(r *http.Request, u *users.User, username, password, hash string) bool {
	defer b.releaseHashSlot()
	match, rehash, err := b.hasher.Check(password, hash)
	if err != nil {
		// A corrupt or hostile stored hash: refuse like a wrong password, and tell the operator.
		b.log.ErrorContext(r.Context(), "passwordauth: stored password hash unusable", "user", username, "err", err)
	}
	ok := u != nil && u.PasswordHash != "" && match && u.Active
	if ok && rehash {
		b.upgradeHash(r, u, password)
	}
	return ok
}

// upgradeHash replaces a bcrypt hash, or an argon2id one with other parameters, by a hash with
// the Hasher's parameters while the password is at hand. Failure only costs the upgrade.
func (b *Backend) upgradeHash(r *http.Request, u *users.User, password string) {
	h, err := b.hasher.Hash(password)
	if err == nil {
		err = b.store.SetPassword(r.Context(), u.ID, h)
	}
	if err != nil {
		b.log.WarnContext(r.Context(), "passwordauth: upgrade password hash", "user", u.ID, "err", err)
		return
	}
	u.PasswordHash = h
}

func (b *Backend) throttled(w http.ResponseWriter, r *http.Request, by, username, client string, wait time.Duration, next string) {
	b.log.InfoContext(r.Context(), "passwordauth: sign-in throttled", "by", by, "user", username, "client", client)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
	b.renderLogin(w, r, http.StatusTooManyRequests, msgThrottled, next)
}

// Logout shows a small confirmation form on GET and HEAD, because a GET must not change state
// (a link or an image could sign the user out). POST deletes the session from the store and
// redirects with 303 to the login page; an HTMX request gets 204 with HX-Redirect instead.
func (b *Backend) Logout(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		renderLogout(w, r, http.StatusOK, "")
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if sess := admin.SessionFromRequest(r); sess != nil {
		id := sess.GetString(sessionUserKey)
		if err := sess.Destroy(); err != nil {
			b.log.ErrorContext(r.Context(), "passwordauth: sign-out: destroy session", "user", id, "err", err)
			renderLogout(w, r, http.StatusServiceUnavailable, "Signing out failed. Try again.")
			return
		}
		if id != "" {
			b.log.InfoContext(r.Context(), "passwordauth: signed out", "user", id)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", admin.LoginURL(r))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, admin.LoginURL(r), http.StatusSeeOther)
}

// renderLogin renders the login form. The form keeps next only when admin.SafeRedirect accepts
// it, so the page never carries a foreign return address forward.
func (b *Backend) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	admin.WriteLoginPage(w, r, status, admin.LoginPage{
		Title: "Sign in",
		Error: msg,
		Form: &admin.LoginForm{
			Action: admin.LoginURL(r),
			Next:   next,
			Fields: []admin.LoginField{
				{Name: "username", Label: "Username", Autocomplete: "username", Autofocus: true, Verbatim: true, MaxLength: maxUsername},
				{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password", MaxLength: 1024},
			},
		},
	})
}

// renderLogout renders the sign-out confirmation: a form, since a GET must not sign anyone out.
func renderLogout(w http.ResponseWriter, r *http.Request, status int, msg string) {
	admin.WriteLoginPage(w, r, status, admin.LoginPage{
		Title: "Sign out",
		Error: msg,
		Form:  &admin.LoginForm{Action: admin.BasePath(r) + "/logout", Submit: "Sign out"},
	})
}
