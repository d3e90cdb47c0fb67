package admin

import (
	"net/http"

	"github.com/alexedwards/scs/v2"
)

// Session is the server-side session of one request. Auth backends and the dashboard use it for
// login state and flash messages. It exists only when Config.IncludeSession is on.
type Session struct {
	m *scs.SessionManager
	r *http.Request
	a *Admin
}

type sessionKey struct{}

// SessionFromRequest returns the request's session, or nil when sessions are disabled.
func SessionFromRequest(r *http.Request) *Session {
	m, ok := r.Context().Value(sessionKey{}).(*scs.SessionManager)
	if !ok || m == nil {
		return nil
	}
	s := &Session{m: m, r: r}
	if st := stateFrom(r); st != nil {
		s.a = st.admin
	}
	return s
}

// GetString returns the string stored under key, or "".
func (s *Session) GetString(key string) string { return s.m.GetString(s.r.Context(), key) }

// PopString returns the string stored under key and removes it (for flash messages).
func (s *Session) PopString(key string) string { return s.m.PopString(s.r.Context(), key) }

// PutString stores a string under key.
func (s *Session) PutString(key, value string) { s.m.Put(s.r.Context(), key, value) }

// Remove deletes key.
func (s *Session) Remove(key string) { s.m.Remove(s.r.Context(), key) }

// RenewToken gives the session a new ID and deletes the old one from the store. Call it at every
// privilege change (login) to prevent session fixation.
func (s *Session) RenewToken() error { return s.m.RenewToken(s.r.Context()) }

// Destroy deletes the session from the store and expires its cookie. Streams opened under the
// session (StreamContext) end at once.
func (s *Session) Destroy() error {
	token := s.m.Token(s.r.Context())
	if err := s.m.Destroy(s.r.Context()); err != nil {
		return err
	}
	if s.a != nil && token != "" {
		s.a.streams.end(token)
	}
	return nil
}
