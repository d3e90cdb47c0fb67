package oidcauth

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/asyncmq/asyncmq/admin"
)

const (
	// maxForm bounds the sign-in and sign-out form bodies.
	maxForm = 16 << 10
	// maxPending bounds the sign-ins a session may have started and not finished, one per
	// browser tab, so that signing in from a second tab does not break the first.
	maxPending = 4
	// pendingLifetime is how long the provider may take to send the browser back.
	pendingLifetime = 10 * time.Minute
)

// Messages shown on the login page.
const (
	msgUnavailable = "Sign-in is temporarily unavailable."
	msgBadForm     = "The form could not be read."
	msgBadAnswer   = "The identity provider's answer could not be read. Start again."
	msgUnknown     = "This sign-in is unknown, expired or already finished. Start again."
	msgRefused     = "The identity provider did not sign you in. Start again."
	msgUnreachable = "The identity provider could not be reached. Try again in a moment."
)

// pending is a sign-in started by this session and not yet finished: what the callback must
// find again (state), send back (the PKCE verifier) and compare (nonce).
type pending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Started  time.Time `json:"started"`
}

// Login serves the sign-in page (GET, HEAD) with one "Sign in with <ProviderName>" button,
// and starts a sign-in (POST): it stores a fresh state, nonce and PKCE verifier in the session
// and answers 200 with a "Refresh: 0; url=<authorization request>" header that sends the
// browser on to the provider (see continueTo for why not a redirect). The admin refuses a
// cross-origin POST before it gets here, so a foreign page cannot start a sign-in for the
// browser. The form's "next" is kept only when admin.SafeRedirect accepts it.
func (b *Backend) Login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		b.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"))
	case http.MethodPost:
		b.startLogin(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}

func (b *Backend) startLogin(w http.ResponseWriter, r *http.Request) {
	sess := admin.SessionFromRequest(r)
	if sess == nil {
		b.log.ErrorContext(r.Context(), "oidcauth: sign-in without a session; enable admin.Config.IncludeSession")
		b.renderLogin(w, r, http.StatusServiceUnavailable, msgUnavailable, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		b.renderLogin(w, r, http.StatusBadRequest, msgBadForm, "")
		return
	}
	p := pending{
		State:    rand.Text(),
		Nonce:    rand.Text(),
		Verifier: oauth2.GenerateVerifier(),
		Next:     admin.SafeRedirect(r, r.PostForm.Get("next")),
		Started:  time.Now(),
	}
	list := append(livePending(sess), p)
	if len(list) > maxPending {
		list = list[len(list)-maxPending:]
	}
	enc, err := json.Marshal(list)
	if err != nil {
		b.renderLogin(w, r, http.StatusInternalServerError, msgUnavailable, "")
		return
	}
	sess.PutString(sessionPendingKey, string(enc))
	target := b.oauth.AuthCodeURL(p.State, oauth2.S256ChallengeOption(p.Verifier), oidc.Nonce(p.Nonce))
	b.continueTo(w, r, target, "Signing in", "Continuing to "+b.s.ProviderName+" to sign in…")
}

// continueTo answers a form submission with a page that sends the browser on to target, an
// address at the provider, through a Refresh header. A redirect would not do: the admin's
// Content-Security-Policy has form-action 'self', which browsers apply to every redirect that
// follows a form submission, and a Refresh is a new navigation that form-action does not govern.
func (b *Backend) continueTo(w http.ResponseWriter, r *http.Request, target, title, text string) {
	w.Header().Set("Refresh", "0; url="+target)
	admin.WriteLoginPage(w, r, http.StatusOK, admin.LoginPage{
		Title:      title,
		Paragraphs: []admin.Paragraph{{admin.Text(text)}},
	})
}

// livePending returns the session's unexpired pending sign-ins.
func livePending(sess *admin.Session) []pending {
	var list []pending
	if !unmarshal(sess.GetString(sessionPendingKey), &list) {
		return nil
	}
	live := list[:0]
	for _, p := range list {
		if time.Since(p.Started) < pendingLifetime {
			live = append(live, p)
		}
	}
	return live
}

// takePending removes and returns the pending sign-in whose state is state. Each state is
// good for one callback: a replayed callback finds nothing.
func takePending(sess *admin.Session, state string) (pending, bool) {
	list := livePending(sess)
	found, at := pending{}, -1
	for i, p := range list {
		if sameString(p.State, state) {
			found, at = p, i
		}
	}
	if at < 0 {
		return pending{}, false
	}
	list = append(list[:at], list[at+1:]...)
	if len(list) == 0 {
		sess.Remove(sessionPendingKey)
	} else if enc, err := json.Marshal(list); err == nil {
		sess.PutString(sessionPendingKey, string(enc))
	}
	return found, true
}

// Logout shows a sign-out form on GET and HEAD, because a GET must not change state. POST
// destroys the session; when the provider advertises an end_session_endpoint, it answers 200
// with a Refresh header sending the browser there with id_token_hint, client_id and
// post_logout_redirect_uri (the login page by default), otherwise 303 to the login page. An HTMX
// request gets 204 with HX-Redirect instead.
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
	var st signedIn
	if sess := admin.SessionFromRequest(r); sess != nil {
		unmarshal(sess.GetString(sessionUserKey), &st)
		if err := sess.Destroy(); err != nil {
			b.log.ErrorContext(r.Context(), "oidcauth: sign-out: destroy session", "user", st.Subject, "err", err)
			renderLogout(w, r, http.StatusServiceUnavailable, "Signing out failed. Try again.")
			return
		}
		if st.Subject != "" {
			b.log.InfoContext(r.Context(), "oidcauth: signed out", "user", st.Subject)
		}
	}
	target := admin.LoginURL(r)
	if b.endSession != "" {
		target = b.endSessionURL(st.IDToken)
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.Header.Get("HX-Request") == "true":
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
	case b.endSession != "":
		b.continueTo(w, r, target, "Signing out", "You are signed out of the dashboard. Continuing to "+b.s.ProviderName+" to sign out there too…")
	default:
		http.Redirect(w, r, target, http.StatusSeeOther)
	}
}

// endSessionURL is the provider's end_session_endpoint with the RP-initiated logout parameters.
func (b *Backend) endSessionURL(idToken string) string {
	u, err := url.Parse(b.endSession)
	if err != nil {
		return b.endSession
	}
	q := u.Query()
	q.Set("client_id", b.s.ClientID)
	q.Set("post_logout_redirect_uri", b.s.PostLogoutRedirectURL)
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// renderLogin renders the sign-in page: one button, and the error of a refused sign-in.
func (b *Backend) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	admin.WriteLoginPage(w, r, status, admin.LoginPage{
		Title:      "Sign in",
		Paragraphs: []admin.Paragraph{{admin.Text("This dashboard signs you in with " + b.s.ProviderName + ".")}},
		Error:      msg,
		Form: &admin.LoginForm{
			Action: admin.LoginURL(r),
			Next:   next,
			Submit: "Sign in with " + b.s.ProviderName,
		},
	})
}

// renderLogout renders the sign-out confirmation.
func renderLogout(w http.ResponseWriter, r *http.Request, status int, msg string) {
	admin.WriteLoginPage(w, r, status, admin.LoginPage{
		Title: "Sign out",
		Error: msg,
		Form:  &admin.LoginForm{Action: admin.BasePath(r) + "/logout", Submit: "Sign out"},
	})
}
