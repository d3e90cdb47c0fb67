package admin

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// ErrSignedOut is the cause (context.Cause) of a StreamContext ended because its user no longer
// authenticates: signed out, disabled, removed, no longer authorised, or past the credentials'
// expiry.
var ErrSignedOut = errors.New("admin: the stream's user no longer authenticates")

// defaultStreamRecheck is how often a stream re-authenticates its user by default: short enough
// that a disabled account stops receiving data within half a minute, long enough that a
// thousand open streams cost a few store reads a second.
const defaultStreamRecheck = 30 * time.Second

// StreamContext returns the context a long-lived response to r, such as a Server-Sent Events
// stream, should run under. The gate admits a request once, but a stream outlives that moment,
// so the context is cancelled, with cause ErrSignedOut, as soon as the user it was opened for
// no longer authenticates: at once when its server-side session is destroyed (a sign-out through
// Session.Destroy in this process), at User.ExpiresAt, and otherwise when a re-check every
// Config.StreamRecheckInterval (default 30 seconds) finds the backend refusing the request's
// credentials, naming another user, failing, or the user no longer authorised.
//
// Call the CancelFunc when the stream ends. Outside an admin, or with login disabled, the
// context is r's, cancellable.
func StreamContext(r *http.Request) (context.Context, context.CancelFunc) {
	st := stateFrom(r)
	if st == nil || st.admin == nil || !st.admin.login || st.user == nil {
		return context.WithCancel(r.Context())
	}
	return st.admin.watch(r, st)
}

// liveStream is one open StreamContext.
type liveStream struct{ cancel context.CancelCauseFunc }

// streamRegistry finds the open streams of a session token, so that destroying the session
// ends them without waiting for the next re-check.
type streamRegistry struct {
	mu        sync.Mutex
	bySession map[string]map[*liveStream]struct{}
}

func (s *streamRegistry) add(token string, ls *liveStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bySession == nil {
		s.bySession = map[string]map[*liveStream]struct{}{}
	}
	set := s.bySession[token]
	if set == nil {
		set = map[*liveStream]struct{}{}
		s.bySession[token] = set
	}
	set[ls] = struct{}{}
}

func (s *streamRegistry) remove(token string, ls *liveStream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if set := s.bySession[token]; set != nil {
		delete(set, ls)
		if len(set) == 0 {
			delete(s.bySession, token)
		}
	}
}

// end cancels every stream of a session token.
func (s *streamRegistry) end(token string) {
	s.mu.Lock()
	set := s.bySession[token]
	delete(s.bySession, token)
	s.mu.Unlock()
	for ls := range set {
		ls.cancel(ErrSignedOut)
	}
}

func (a *Admin) watch(r *http.Request, st *requestState) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	ls := &liveStream{cancel: cancel}
	token := ""
	if st.session != nil {
		token = st.session.Token(r.Context())
	}
	if token != "" {
		a.streams.add(token, ls)
	}
	// The handler keeps using r; the re-checks read a copy of its headers.
	rc := r.Clone(r.Context())
	user := st.user
	go func() {
		if token != "" {
			defer a.streams.remove(token, ls)
		}
		tick := time.NewTicker(a.streamRecheck)
		defer tick.Stop()
		var expired <-chan time.Time
		if !user.ExpiresAt.IsZero() {
			t := time.NewTimer(time.Until(user.ExpiresAt))
			defer t.Stop()
			expired = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-expired:
				a.endStream(ctx, cancel, user, "credentials expired")
				return
			case <-tick.C:
				if reason := a.recheck(rc, st, token); reason != "" {
					a.endStream(ctx, cancel, user, reason)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

func (a *Admin) endStream(ctx context.Context, cancel context.CancelCauseFunc, u *User, reason string) {
	a.log.DebugContext(ctx, "admin: stream ended", "user", u.ID, "reason", reason)
	cancel(ErrSignedOut)
}

// recheck authenticates the stream's request again, with its session re-read from the store,
// and returns why the user no longer passes the gate, or "" when it still does.
func (a *Admin) recheck(r *http.Request, st *requestState, token string) string {
	if st.session != nil {
		// st is the request's state without the session data loaded at its start, so Load reads
		// the store afresh; a destroyed session comes back empty.
		ctx, err := st.session.Load(st, token)
		if err != nil {
			return "session store failed"
		}
		r = r.WithContext(ctx)
	}
	u, err := a.backend.Authenticate(r)
	switch {
	case err != nil && !errors.Is(err, ErrNoCredentials):
		// The gate answers such a request 503; a stream it cannot vouch for ends too, and the
		// browser's reconnection meets the gate.
		a.log.WarnContext(r.Context(), "admin: re-authenticating a stream failed", "err", err)
		return "backend failed"
	case err != nil || u == nil || u.ID == "":
		return "signed out"
	case u.ID != st.user.ID:
		return "another user"
	case !a.authorized(u):
		return "no longer authorized"
	}
	return ""
}
