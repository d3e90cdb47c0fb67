package admin

import "net/http"

// WriteNotAuthorized answers 403 with the body the gate sends a user it refuses ("Dashboard user
// is not authorized"), for auth backends that refuse a user themselves, such as at the end of a
// single sign-on callback.
func WriteNotAuthorized(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	writeText(w, http.StatusForbidden, msgNotAuthorized)
}
