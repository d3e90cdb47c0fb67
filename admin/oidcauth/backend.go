package oidcauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
)

// Session keys.
const (
	sessionUserKey    = "oidcauth.user"
	sessionPendingKey = "oidcauth.pending"
)

// fallbackLifetime is how long a refreshed session lasts when the provider says nothing about
// expiry: no new ID token and no expires_in.
const fallbackLifetime = 5 * time.Minute

// Backend is the OpenID Connect admin.AuthBackend. It is safe for concurrent use. Close it
// when done: it refreshes the provider's keys in the background.
type Backend struct {
	s          *settings
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	keys       *jwtauth.Verifier
	endSession string
	log        *slog.Logger

	renewals singleflight.Group
	// renewed remembers recent renewals by old refresh token, so that a request that loaded
	// its session just before another request rotated the refresh token still finds the
	// result instead of spending the old token again (which the provider would refuse).
	mu      sync.Mutex
	renewed map[[sha256.Size]byte]renewal
}

type renewal struct {
	st  *signedIn
	at  time.Time
	err error
}

// renewalMemory is how long a renewal result is reused by requests carrying the old token.
const renewalMemory = 30 * time.Second

var _ admin.AuthBackend = (*Backend)(nil)

// New checks cfg, reads the provider's discovery document and signing keys (with ctx bounding
// both), and builds the backend. A provider that cannot be reached fails New.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	pctx := oidc.ClientContext(ctx, s.HTTPClient)
	p, err := oidc.NewProvider(pctx, s.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidcauth: discover provider %s: %w", s.Issuer, err)
	}
	var meta struct {
		JWKSURL    string   `json:"jwks_uri"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
		EndSession string   `json:"end_session_endpoint"`
		Methods    []string `json:"code_challenge_methods_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("oidcauth: read discovery document of %s: %w", s.Issuer, err)
	}
	if meta.JWKSURL == "" {
		return nil, fmt.Errorf("oidcauth: provider %s advertises no jwks_uri", s.Issuer)
	}
	keys, verifier, err := newVerifiers(ctx, s, meta.JWKSURL, meta.Algs)
	if err != nil {
		return nil, fmt.Errorf("oidcauth: %w", err)
	}
	b := &Backend{
		s: s,
		oauth: oauth2.Config{
			ClientID:     s.ClientID,
			ClientSecret: s.ClientSecret,
			Endpoint:     p.Endpoint(),
			RedirectURL:  s.RedirectURL,
			Scopes:       s.Scopes,
		},
		verifier:   verifier,
		keys:       keys,
		endSession: meta.EndSession,
		log:        s.Logger,
		renewed:    map[[sha256.Size]byte]renewal{},
	}
	if len(meta.Methods) > 0 && !slices.Contains(meta.Methods, "S256") {
		b.log.WarnContext(ctx, "oidcauth: provider does not advertise PKCE S256; sending it anyway", "issuer", s.Issuer)
	}
	if b.s.PostLogoutRedirectURL == "" {
		b.s.PostLogoutRedirectURL = strings.TrimSuffix(s.RedirectURL, CallbackPath) + "/login"
	}
	return b, nil
}

// Close stops the background refresh of the provider's keys.
func (b *Backend) Close() error { return b.keys.Close() }

// RequiresSession reports true: admin.New refuses to run this backend without sessions.
func (b *Backend) RequiresSession() bool { return true }

// SessionSameSite asks admin.New for SameSite=Lax session cookies (unless Config.Session sets
// SameSite): the provider sends the browser back to the callback from its own site, and a Strict
// cookie would not come with it, so the callback could not find the sign-in's state.
func (b *Backend) SessionSameSite() http.SameSite { return http.SameSiteLaxMode }

// Routes returns the callback route, GET CallbackPath.
func (b *Backend) Routes() []admin.Route {
	return []admin.Route{{Pattern: "GET " + CallbackPath, Handler: http.HandlerFunc(b.callback)}}
}

// EndSessionEndpoint returns the provider's end_session_endpoint, or "" when it advertises none.
func (b *Backend) EndSessionEndpoint() string { return b.endSession }

// signedIn is the session's record of a signed-in user.
type signedIn struct {
	Subject      string    `json:"sub"`
	Name         string    `json:"name,omitempty"`
	Email        string    `json:"email,omitempty"`
	Roles        []string  `json:"roles"`
	SignedInAt   time.Time `json:"signed_in_at"`
	Expiry       time.Time `json:"expiry"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
}

func (st *signedIn) user() *admin.User {
	u := &admin.User{ID: st.Subject, Name: st.Name, Email: st.Email, Roles: append([]string(nil), st.Roles...)}
	if u.Name == "" {
		u.Name = st.Email
	}
	u.IsAdmin = u.HasRole("admin")
	return u
}

var (
	errNoSession = errors.New("oidcauth: no session: enable admin.Config.IncludeSession")
	errNoLogin   = fmt.Errorf("oidcauth: not signed in: %w", admin.ErrNoCredentials)
)

// Authenticate returns the user of the request's session. A session past its ID token's expiry
// is renewed with the refresh token when there is one; it ends (an error wrapping
// admin.ErrNoCredentials) when there is none, when the provider refuses to renew, when the
// renewed ID token no longer admits the user, and MaxSessionLifetime after sign-in. A provider
// that cannot be reached during a renewal yields another error, which the gate answers with 503.
func (b *Backend) Authenticate(r *http.Request) (*admin.User, error) {
	sess := admin.SessionFromRequest(r)
	if sess == nil {
		return nil, errNoSession
	}
	var st signedIn
	if !unmarshal(sess.GetString(sessionUserKey), &st) {
		return nil, errNoLogin
	}
	now := time.Now()
	if !now.Before(st.Expiry) {
		if st.RefreshToken == "" || !now.Before(st.SignedInAt.Add(b.s.MaxSessionLifetime)) {
			return nil, b.forget(r, sess, st.Subject, "expired")
		}
		renewed, err := b.renew(r.Context(), &st)
		if err != nil {
			if errors.Is(err, admin.ErrNoCredentials) {
				return nil, b.forget(r, sess, st.Subject, err.Error())
			}
			return nil, fmt.Errorf("oidcauth: renew session of %q: %w", st.Subject, err)
		}
		st = *renewed
		enc, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("oidcauth: store renewed session of %q: %w", st.Subject, err)
		}
		sess.PutString(sessionUserKey, string(enc))
	}
	return st.user(), nil
}

// forget forgets the session's user and says why.
func (b *Backend) forget(r *http.Request, sess *admin.Session, sub, reason string) error {
	sess.Remove(sessionUserKey)
	b.log.InfoContext(r.Context(), "oidcauth: session ended", "user", sub, "reason", reason)
	return fmt.Errorf("oidcauth: session of %q ended (%s): %w", sub, reason, admin.ErrNoCredentials)
}

// renew redeems st's refresh token once, however many requests ask at the same time.
func (b *Backend) renew(ctx context.Context, st *signedIn) (*signedIn, error) {
	key := sha256.Sum256([]byte(st.RefreshToken))
	now := time.Now()
	b.mu.Lock()
	for k, r := range b.renewed {
		if now.Sub(r.at) > renewalMemory {
			delete(b.renewed, k)
		}
	}
	if r, ok := b.renewed[key]; ok {
		b.mu.Unlock()
		return r.st, r.err
	}
	b.mu.Unlock()
	v, err, _ := b.renewals.Do(string(key[:]), func() (any, error) {
		// The renewal outlives a cancelled request: the other requests waiting for it would
		// otherwise fail with the first one's cancellation.
		st, err := b.refresh(context.WithoutCancel(ctx), st)
		if err == nil || errors.Is(err, admin.ErrNoCredentials) {
			b.mu.Lock()
			b.renewed[key] = renewal{st: st, at: time.Now(), err: err}
			b.mu.Unlock()
		}
		return st, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*signedIn), nil
}

// refresh asks the provider for new tokens. A refusal (an OAuth error answer, or an ID token
// that fails verification or no longer admits the user) wraps admin.ErrNoCredentials.
func (b *Backend) refresh(ctx context.Context, st *signedIn) (*signedIn, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, b.s.HTTPClient)
	tok, err := b.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: st.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("provider refused renewal (%s): %w", re.ErrorCode, admin.ErrNoCredentials)
		}
		return nil, fmt.Errorf("refresh tokens: %w", err)
	}
	next := *st
	next.RefreshToken = tok.RefreshToken
	next.Expiry = tok.Expiry
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		vt, err := b.verifyIDToken(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("renewed %w", errors.Join(err, admin.ErrNoCredentials))
		}
		// OpenID Connect Core §12.2: a renewed ID token is about the same user.
		if sub, _ := vt.claims["sub"].(string); sub != st.Subject {
			return nil, fmt.Errorf("renewed ID token is about another subject: %w", admin.ErrNoCredentials)
		}
		d := b.s.decide(vt.claims)
		if !d.admit {
			return nil, fmt.Errorf("no longer admitted: %s: %w", d.reason, admin.ErrNoCredentials)
		}
		next.Name, next.Email, next.Roles = d.user.Name, d.user.Email, d.user.Roles
		next.Expiry, next.IDToken = vt.expiry, raw
	}
	if next.Expiry.IsZero() {
		next.Expiry = time.Now().Add(fallbackLifetime)
	}
	if limit := st.SignedInAt.Add(b.s.MaxSessionLifetime); next.Expiry.After(limit) {
		next.Expiry = limit
	}
	return &next, nil
}
