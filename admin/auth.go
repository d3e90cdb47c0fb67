package admin

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNoCredentials is what an AuthBackend returns (possibly wrapped) from Authenticate when the
// request carries no credentials, or credentials that are invalid, expired or refused. The gate
// treats it exactly like an anonymous request: a redirect to the login page. Any other error means
// the backend could not decide (a database is down) and the gate answers 503.
var ErrNoCredentials = errors.New("no valid credentials")

// User is an authenticated dashboard user.
type User struct {
	// ID is the stable identifier recorded in the audit log (the JWT "sub", the username).
	ID string
	// Name is the display name; it falls back to ID.
	Name string
	// Email is the user's e-mail address when the backend knows it, "" otherwise.
	Email string
	// IsAdmin grants the admin role.
	IsAdmin bool
	// Roles are the user's roles ("viewer", "operator", "admin", or any application role).
	Roles []string
	// Claims holds the verified token claims for token-based backends, nil otherwise.
	Claims map[string]any
	// ExpiresAt is when the user's credentials stop being valid (a token's "exp"), or the zero
	// time when they do not expire by themselves. StreamContext ends long-lived responses then.
	ExpiresAt time.Time
}

// DisplayName returns Name, or ID when Name is empty.
func (u *User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

// HasRole reports whether the user holds role, either as given or with the "asyncmq:" prefix.
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role || r == "asyncmq:"+role {
			return true
		}
	}
	return false
}

// Admin reports whether the user is an administrator: IsAdmin, or a role "admin" / "asyncmq:admin".
func (u *User) Admin() bool {
	return u.IsAdmin || u.HasRole("admin")
}

// Route is an extra HTTP route an AuthBackend asks the admin to mount under its prefix. Pattern is
// an http.ServeMux pattern relative to the prefix, such as "GET /oauth/callback". Routes are
// outside the gate: the backend authenticates them itself.
type Route struct {
	Pattern string
	Handler http.Handler
}

// AuthBackend authenticates dashboard requests. It is the Go form of AsyncMQ's AuthBackend protocol.
type AuthBackend interface {
	// Authenticate returns the user a request belongs to. It returns an error wrapping
	// ErrNoCredentials when the request is anonymous or its credentials are refused, and any
	// other error when it cannot decide.
	Authenticate(r *http.Request) (*User, error)
	// Login serves the login page (GET) and the login form submission (POST) at <prefix><LoginPath>.
	Login(w http.ResponseWriter, r *http.Request)
	// Logout serves <prefix>/logout.
	Logout(w http.ResponseWriter, r *http.Request)
	// Routes lists extra routes to mount under the prefix; nil for none.
	Routes() []Route
}

type userKey struct{}

// ContextWithUser returns a copy of ctx carrying u, for code and tests that run a handler
// outside the admin. The gate records the users it admits in the request's context itself;
// UserFromContext finds either.
func ContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the user the gate admitted, or nil when login is disabled.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
