package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Response bodies of the gate, as AsyncMQ sends them; tests and clients match on them.
const (
	msgAuthRequired  = "Authentication required"
	msgNotAuthorized = "Dashboard user is not authorized"
	msgCrossOrigin   = "Cross-origin dashboard request rejected"
	msgAuthDown      = "Authentication backend unavailable"
)

// gate authenticates and authorises r. It answers the request itself and reports false when
// the request may not proceed; on true the user is recorded in the request's state.
func (a *Admin) gate(w http.ResponseWriter, r *http.Request, st *requestState) bool {
	u, err := a.backend.Authenticate(r)
	if err != nil && !errors.Is(err, ErrNoCredentials) {
		// The backend could not decide (a database is down). Redirecting to the login page
		// would hide the outage behind a login loop.
		a.log.ErrorContext(r.Context(), "admin: authentication backend failed",
			"method", r.Method, "path", st.info.base+r.URL.EscapedPath(), "err", err)
		writeText(w, http.StatusServiceUnavailable, msgAuthDown)
		return false
	}
	if err != nil || u == nil || u.ID == "" {
		a.redirectToLogin(w, r, st)
		return false
	}
	if !a.authorized(u) {
		a.refuse(r, "user not authorized")
		writeText(w, http.StatusForbidden, msgNotAuthorized)
		return false
	}
	if a.sameOrigin && !isSafeMethod(r.Method) && !a.sameOriginAllowed(r, st) {
		a.refuse(r, "cross-origin request")
		writeText(w, http.StatusForbidden, msgCrossOrigin)
		return false
	}
	st.user = u
	return true
}

func (a *Admin) authorized(u *User) bool {
	if u.Admin() {
		return true
	}
	if a.requireAdmin {
		return false
	}
	if len(a.requiredRoles) == 0 {
		return true
	}
	for _, role := range a.requiredRoles {
		if u.HasRole(role) {
			return true
		}
	}
	return false
}

// redirectToLogin sends the browser to the login page with the public path and query it asked
// for in next. HTMX requests get 401 and HX-Redirect instead, because a 303 would be followed
// by the XMLHttpRequest and the login page swapped into a fragment.
//
// next is bounded like SafeRedirect bounds what it accepts (2 KiB): a longer query is left out,
// and a longer path returns to the dashboard root, so a huge request cannot be echoed into a
// huge Location header.
func (a *Admin) redirectToLogin(w http.ResponseWriter, r *http.Request, st *requestState) {
	next := st.info.base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" && len(next)+1+len(r.URL.RawQuery) <= maxNextLen {
		next += "?" + r.URL.RawQuery
	}
	if len(next) > maxNextLen {
		next = st.info.base + "/"
	}
	target := st.info.base + st.info.loginPath + "?next=" + escapeNext(next)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if r.Header.Get("HX-Request") == "true" {
		h.Set("HX-Redirect", target)
		writeText(w, http.StatusUnauthorized, msgAuthRequired)
		return
	}
	h.Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// escapeNext escapes a path and query as a single query value, leaving "/" readable as in
// AsyncMQ's "?next=/asyncmq/queues". Only literal slashes are restored: an escaped one in the
// path ("%2F") becomes "%252F" and stays escaped.
func escapeNext(next string) string {
	return strings.ReplaceAll(url.QueryEscape(next), "%2F", "/")
}
