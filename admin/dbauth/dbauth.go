package dbauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/admin/users"
)

// MaxCacheTTL is the largest Config.CacheTTL accepted: longer would let a disabled user in for
// too long to call the check "live".
const MaxCacheTTL = 5 * time.Minute

// cacheSize bounds the user cache when CacheTTL is set.
const cacheSize = 10_000

// Config configures the backend.
type Config struct {
	// JWT configures token verification: key source, algorithms, audience, issuer, leeway,
	// header, cookie and size limits, with the defaults documented on jwtauth.Config. Its
	// AdminClaim and RolesClaim are not used: the admin flag and roles come from the store.
	// Its Logger also receives this backend's refusals (at debug level).
	JWT jwtauth.Config
	// Store holds the users. Required.
	Store users.Store
	// UserClaim names the claim holding the user ID to look up; default "sub". Setting it is the
	// same as setting JWT.UserClaim; setting both to different values is an error.
	UserClaim string
	// RequireAdmin refuses users who are not admins in the store (the admin flag, or a role
	// "admin" or "asyncmq:admin"): such a user is returned without admin rights or roles, so that
	// the admin gate (with its RequireAdmin, on by default) answers 403 "Dashboard user is not
	// authorized" rather than sending a signed-in user back to the login page.
	RequireAdmin bool
	// CacheTTL keeps each looked-up user for this long, saving a database query per request.
	// Default 0: every request reads the store, so disabling a user, removing it or changing its
	// roles takes effect on the next request. With a TTL those changes take up to CacheTTL to
	// apply, in every process serving the dashboard; a few seconds is plenty when HTMX polling
	// makes the query show in profiles. At most MaxCacheTTL.
	CacheTTL time.Duration
}

// Backend is the JWT plus database admin.AuthBackend. It is safe for concurrent use.
type Backend struct {
	jwt          *jwtauth.Backend
	store        users.Store
	requireAdmin bool
	log          *slog.Logger
	cache        *userCache
}

var _ admin.AuthBackend = (*Backend)(nil)

// New validates cfg and builds the backend; with JWT.JWKSURL it fetches the key set once (see
// jwtauth.NewVerifier). Call Close when done.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Store == nil {
		return nil, errors.New("dbauth: Config.Store is required")
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > MaxCacheTTL {
		return nil, fmt.Errorf("dbauth: Config.CacheTTL %v out of range [0, %v]", cfg.CacheTTL, MaxCacheTTL)
	}
	if cfg.UserClaim != "" {
		if cfg.JWT.UserClaim != "" && cfg.JWT.UserClaim != cfg.UserClaim {
			return nil, fmt.Errorf("dbauth: Config.UserClaim %q and Config.JWT.UserClaim %q disagree; set one", cfg.UserClaim, cfg.JWT.UserClaim)
		}
		cfg.JWT.UserClaim = cfg.UserClaim
	}
	jb, err := jwtauth.New(ctx, cfg.JWT)
	if err != nil {
		return nil, fmt.Errorf("dbauth: %w", err)
	}
	b := &Backend{jwt: jb, store: cfg.Store, requireAdmin: cfg.RequireAdmin, log: cfg.JWT.Logger}
	if b.log == nil {
		b.log = slog.Default()
	}
	if cfg.CacheTTL > 0 {
		b.cache = &userCache{ttl: cfg.CacheTTL, now: time.Now, m: map[string]cacheEntry{}}
	}
	return b, nil
}

// Authenticate verifies the request's token and loads the user it names from the store. It
// returns an error wrapping admin.ErrNoCredentials (the gate redirects to the login page) for a
// missing or refused token, an unknown user and an inactive one; and any other error (the gate
// answers 503) when the store fails. The user's Name is the display name, else the email, else
// the ID; IsAdmin and Roles come from the store; Claims are the token's.
func (b *Backend) Authenticate(r *http.Request) (*admin.User, error) {
	ctx := r.Context()
	// The jwtauth backend extracts and verifies the token, and logs a refusal at debug level
	// without allocating when debug logging is off. Its user is the token's, read-only.
	tu, err := b.jwt.Authenticate(r)
	if err != nil {
		return nil, err
	}
	u, err := b.lookup(ctx, tu.ID)
	switch {
	case errors.Is(err, users.ErrUserNotFound):
		b.log.DebugContext(ctx, "dbauth: token for an unknown user", "user", tu.ID)
		return nil, fmt.Errorf("dbauth: user %q is unknown: %w", tu.ID, admin.ErrNoCredentials)
	case err != nil:
		// Not ErrNoCredentials: a database outage must not look like a logout. The gate logs it.
		return nil, fmt.Errorf("dbauth: load user %q: %w", tu.ID, err)
	case !u.Active:
		b.log.DebugContext(ctx, "dbauth: token for an inactive user", "user", tu.ID)
		return nil, fmt.Errorf("dbauth: user %q is inactive: %w", tu.ID, admin.ErrNoCredentials)
	}
	au := &admin.User{
		ID:      u.ID,
		Name:    u.Name(),
		Email:   u.Email,
		IsAdmin: u.Admin,
		Roles:   slices.Clone(u.Roles),
		Claims:  tu.Claims,
		// The token's expiry still ends the user's streams.
		ExpiresAt: tu.ExpiresAt,
	}
	if b.requireAdmin && !au.Admin() {
		b.log.DebugContext(ctx, "dbauth: user is not an admin", "user", tu.ID)
		au.IsAdmin, au.Roles = false, nil
	}
	return au, nil
}

func (b *Backend) lookup(ctx context.Context, id string) (*users.User, error) {
	if b.cache == nil {
		return b.store.Get(ctx, id)
	}
	if e, ok := b.cache.get(id); ok {
		return e.u, e.err
	}
	u, err := b.store.Get(ctx, id)
	if err == nil || errors.Is(err, users.ErrUserNotFound) {
		// Unknown users are cached too, or a stream of tokens for a deleted user would query
		// on every request. Store failures are not: the next request should try again.
		b.cache.put(id, u, err)
	}
	return u, err
}

// Login delegates to the embedded jwtauth backend: a page explaining the expected header, and
// the token form when JWT.CookieName is set.
func (b *Backend) Login(w http.ResponseWriter, r *http.Request) { b.jwt.Login(w, r) }

// Logout delegates to the embedded jwtauth backend: it clears the token cookie, if any, and
// redirects to the login page.
func (b *Backend) Logout(w http.ResponseWriter, r *http.Request) { b.jwt.Logout(w, r) }

// Routes returns nil.
func (b *Backend) Routes() []admin.Route { return nil }

// Verifier returns the token verifier.
func (b *Backend) Verifier() *jwtauth.Verifier { return b.jwt.Verifier() }

// Close stops the verifier's background JWKS refresh, if any. It does not close the store.
func (b *Backend) Close() error { return b.jwt.Verifier().Close() }

type cacheEntry struct {
	u       *users.User
	err     error
	expires time.Time
}

// userCache is a small TTL cache. When full it drops expired entries and then arbitrary ones,
// down to nine tenths of its size so the sweep is paid once per many insertions: a flood of
// distinct subjects can only cost extra queries, never memory.
type userCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cacheEntry
}

func (c *userCache) get(id string) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || !c.now().Before(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *userCache) put(id string, u *users.User, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= cacheSize {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) <= cacheSize*9/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[id] = cacheEntry{u: u, err: err, expires: now.Add(c.ttl)}
}
