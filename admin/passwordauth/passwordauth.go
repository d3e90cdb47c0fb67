package passwordauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/users"
)

// Defaults of Config.
var (
	// DefaultPerUser allows 5 failed sign-ins for a username, then one a minute.
	DefaultPerUser = Throttle{Burst: 5, Every: time.Minute}
	// DefaultPerClient allows 20 sign-in attempts from a client, then one every 10 seconds.
	DefaultPerClient = Throttle{Burst: 20, Every: 10 * time.Second}
)

const (
	defaultMaxTracked = 10_000
	defaultHashWait   = 5 * time.Second
	// Session keys. The password fingerprint ends the session when the password changes.
	sessionUserKey     = "passwordauth.user"
	sessionPasswordKey = "passwordauth.password"
)

// Config configures the backend.
type Config struct {
	// Store holds the users and their password hashes. Required.
	Store users.Store

	// PerUser throttles failed sign-ins per username (exactly as typed, without surrounding
	// space, or the ID of the account the store matched), whether or not the user exists;
	// successful sign-ins cost nothing. Default
	// DefaultPerUser. It slows guessing down rather than locking the account: after the burst,
	// one attempt per Every stays open to the real user as well as to an attacker.
	PerUser Throttle
	// PerClient throttles every sign-in attempt per client (see ClientKey). Default
	// DefaultPerClient.
	PerClient Throttle
	// ClientKey names the client an attempt comes from; default ClientFromRemoteAddr. Behind a
	// reverse proxy every request comes from the proxy's address, so use ClientFromProxies with
	// the proxies' list (asyncmq serve does with --trusted-proxies).
	ClientKey func(r *http.Request) string
	// MaxTracked bounds the number of usernames and of clients whose buckets are remembered,
	// least recently used first out. Default 10 000 each.
	MaxTracked int

	// Hasher checks passwords and upgrades hashes whose parameters differ from its own; the
	// zero value uses users.DefaultHashParams (the OWASP minimum). Unknown users are checked
	// against a dummy hash made with the same parameters.
	Hasher users.Hasher

	// MaxConcurrentHashes bounds the password hashes computed at once; default GOMAXPROCS. An
	// argon2id check at the default parameters takes about 30 ms of a core and 19 MiB.
	MaxConcurrentHashes int
	// HashWait is how long a sign-in waits for a hashing slot before it is answered 503 with
	// Retry-After; default 5 seconds.
	HashWait time.Duration

	// Logger receives failed sign-ins (info: the username and client, never the password) and
	// store failures (error). Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time, for the throttles; tests set it. Default time.Now.
	Now func() time.Time
}

// Backend is the username and password admin.AuthBackend. It is safe for concurrent use.
type Backend struct {
	store     users.Store
	perUser   *limiters
	perClient *limiters
	clientKey func(*http.Request) string
	hasher    users.Hasher
	hashSlots chan struct{}
	hashWait  time.Duration
	dummyHash string
	log       *slog.Logger
	now       func() time.Time
}

var _ admin.AuthBackend = (*Backend)(nil)

// New validates cfg and builds the backend. It computes one dummy password hash (tens of ms),
// which sign-ins for unknown users are checked against so that they take as long as real ones.
func New(cfg Config) (*Backend, error) {
	if cfg.Store == nil {
		return nil, errors.New("passwordauth: Config.Store is required")
	}
	perUser, perClient := cfg.PerUser.withDefault(DefaultPerUser), cfg.PerClient.withDefault(DefaultPerClient)
	for name, t := range map[string]Throttle{"PerUser": perUser, "PerClient": perClient} {
		if t.Burst < 1 || t.Every <= 0 {
			return nil, fmt.Errorf("passwordauth: Config.%s needs a positive Burst and Every, got %+v", name, t)
		}
	}
	if cfg.MaxTracked < 0 || cfg.MaxConcurrentHashes < 0 || cfg.HashWait < 0 {
		return nil, errors.New("passwordauth: Config.MaxTracked, MaxConcurrentHashes and HashWait must not be negative")
	}
	b := &Backend{
		store:     cfg.Store,
		clientKey: cfg.ClientKey,
		hasher:    cfg.Hasher,
		hashWait:  cfg.HashWait,
		log:       cfg.Logger,
		now:       cfg.Now,
	}
	maxTracked := cfg.MaxTracked
	if maxTracked == 0 {
		maxTracked = defaultMaxTracked
	}
	b.perUser, b.perClient = newLimiters(perUser, maxTracked), newLimiters(perClient, maxTracked)
	slots := cfg.MaxConcurrentHashes
	if slots == 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	b.hashSlots = make(chan struct{}, slots)
	if b.hashWait == 0 {
		b.hashWait = defaultHashWait
	}
	if b.clientKey == nil {
		b.clientKey = ClientFromRemoteAddr
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	var err error
	if b.dummyHash, err = b.hasher.Hash(rand.Text()); err != nil {
		return nil, fmt.Errorf("passwordauth: dummy hash: %w", err)
	}
	return b, nil
}

// RequiresSession reports true: admin.New refuses to run this backend without sessions.
func (b *Backend) RequiresSession() bool { return true }

// Routes returns nil: the form is served at the admin's login and logout paths.
func (b *Backend) Routes() []admin.Route { return nil }

var (
	errNoSession = errors.New("passwordauth: no session: enable admin.Config.IncludeSession")
	errNoLogin   = fmt.Errorf("passwordauth: not signed in: %w", admin.ErrNoCredentials)
)

// Authenticate returns the signed-in user of the request's session, reloaded from the store on
// every request. A session without a user, or whose user has since been removed, disabled or
// given a new password, yields an error wrapping admin.ErrNoCredentials (the session forgets the
// user, so re-enabling the account does not revive it); a store failure yields another error,
// which the gate answers with 503.
func (b *Backend) Authenticate(r *http.Request) (*admin.User, error) {
	sess := admin.SessionFromRequest(r)
	if sess == nil {
		return nil, errNoSession
	}
	id := sess.GetString(sessionUserKey)
	if id == "" {
		return nil, errNoLogin
	}
	u, err := b.store.Get(r.Context(), id)
	reason := ""
	switch {
	case errors.Is(err, users.ErrUserNotFound):
		reason = "removed"
	case err != nil:
		return nil, fmt.Errorf("passwordauth: load user %q: %w", id, err)
	case !u.Active:
		reason = "disabled"
	case subtle.ConstantTimeCompare([]byte(sess.GetString(sessionPasswordKey)), []byte(fingerprint(u.PasswordHash))) != 1:
		reason = "password changed"
	}
	if reason != "" {
		sess.Remove(sessionUserKey)
		sess.Remove(sessionPasswordKey)
		b.log.InfoContext(r.Context(), "passwordauth: session ended", "user", id, "reason", reason)
		return nil, fmt.Errorf("passwordauth: user %q %s since sign-in: %w", id, reason, admin.ErrNoCredentials)
	}
	return &admin.User{ID: u.ID, Name: u.Name(), Email: u.Email, IsAdmin: u.Admin, Roles: slices.Clone(u.Roles)}, nil
}

// fingerprint identifies a password hash in the session without storing the hash itself.
func fingerprint(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:16])
}

// acquireHashSlot waits for a hashing slot for at most HashWait.
func (b *Backend) acquireHashSlot(ctx context.Context) bool {
	select {
	case b.hashSlots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(b.hashWait)
	defer t.Stop()
	select {
	case b.hashSlots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (b *Backend) releaseHashSlot() { <-b.hashSlots }
