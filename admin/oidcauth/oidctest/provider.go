// Package oidctest runs a real OpenID Connect provider in process, for tests and examples of
// admin/oidcauth: discovery, the authorization code flow with PKCE, refresh tokens with
// rotation, the userinfo endpoint and RP-initiated logout (end_session_endpoint) come from
// github.com/zitadel/oidc/v3's certified op package; this package adds an in-memory store, a
// plain username and password sign-in page, and a few hooks tests need (signing arbitrary ID
// tokens, revoking refresh tokens, counting logouts).
//
// It listens on 127.0.0.1 only and is meant for tests: users, passwords and keys live in memory.
// The op package logs refused requests through slog.Default.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// DefaultIDTokenLifetime is the lifetime of ID and access tokens when Config.IDTokenLifetime is 0.
const DefaultIDTokenLifetime = 5 * time.Minute

const (
	loginPath     = "/login"
	loggedOutPath = "/logged-out"
)

// User is an account of the provider.
type User struct {
	// Subject is the "sub" claim and the username typed on the sign-in page. Required.
	Subject string
	// Password is what the sign-in page checks. Required.
	Password string
	// Name is the "name" claim (scope profile).
	Name string
	// Email is the "email" claim (scope email); EmailVerified its "email_verified".
	Email         string
	EmailVerified bool
	// Groups is the "groups" claim, sent whatever the scopes; nil leaves it out.
	Groups []string
	// Claims are further claims put in the ID token and the userinfo response, such as
	// {"realm_access": {"roles": [...]}}.
	Claims map[string]any
}

// Client is a registered relying party.
type Client struct {
	// ID is the client_id. Required.
	ID string
	// Secret is the client secret, checked with HTTP Basic authentication; "" makes a public
	// client, which must use PKCE.
	Secret string
	// RedirectURIs are the accepted redirect_uri values, compared exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the accepted post_logout_redirect_uri values.
	PostLogoutRedirectURIs []string
}

// Config configures Start.
type Config struct {
	// Users are the accounts that can sign in.
	Users []User
	// Clients are the registered relying parties.
	Clients []Client
	// IDTokenLifetime is the lifetime of ID and access tokens; default DefaultIDTokenLifetime.
	IDTokenLifetime time.Duration
	// Intercept, when set, wraps the provider's whole HTTP handler, so a test can rewrite a
	// response (an ID token for another client, say) on its way to the relying party.
	Intercept func(http.Handler) http.Handler
}

// Provider is a running provider. Close it when done.
type Provider struct {
	// URL is the issuer: http://127.0.0.1:<port>, with its discovery document at
	// URL + "/.well-known/openid-configuration".
	URL string

	cfg       Config
	key       *signingKey
	store     *storage
	op        *op.Provider
	srv       *http.Server
	logouts   atomic.Int64
	refreshes atomic.Int64
}

// Start generates a signing key and serves a provider on a free loopback port.
func Start(cfg Config) (*Provider, error) {
	if cfg.IDTokenLifetime == 0 {
		cfg.IDTokenLifetime = DefaultIDTokenLifetime
	}
	cfg.Users, cfg.Clients = slices.Clone(cfg.Users), slices.Clone(cfg.Clients)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidctest: generate signing key: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("oidctest: listen: %w", err)
	}
	p := &Provider{URL: "http://" + ln.Addr().String(), cfg: cfg, key: &signingKey{id: rand.Text()[:16], key: key}}
	p.store = newStorage(p)
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: p.URL + loggedOutPath,
		CodeMethodS256:           true,
		GrantTypeRefreshToken:    true,
	}, p.store, op.StaticIssuer(p.URL), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("oidctest: build provider: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, p.serveLogin)
	mux.HandleFunc(loggedOutPath, func(w http.ResponseWriter, r *http.Request) {
		writePage(w, http.StatusOK, page{Title: "Signed out", Message: "You are signed out of the test provider."})
	})
	mux.Handle("/", p.op)
	var h http.Handler = mux
	if cfg.Intercept != nil {
		h = cfg.Intercept(h)
	}
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.srv.Shutdown(ctx)
}

// Logouts returns how many times the end_session_endpoint ended a session.
func (p *Provider) Logouts() int64 { return p.logouts.Load() }

// Refreshes returns how many refresh tokens were redeemed.
func (p *Provider) Refreshes() int64 { return p.refreshes.Load() }

// RevokeRefreshTokens forgets every refresh token issued to subject, as an administrator
// disabling the account would: the next renewal is refused with invalid_grant.
func (p *Provider) RevokeRefreshTokens(subject string) { p.store.revoke(subject, "") }

// SignIDToken signs claims with the provider's own key, as an ID token would be signed, for
// tests that need a token the provider would not issue (another audience, another nonce).
func (p *Provider) SignIDToken(claims map[string]any) (string, error) {
	return SignJWT(p.key.key, p.key.id, claims)
}

// SignJWT signs claims with RS256 and key, naming kid in the header.
func SignJWT(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", fmt.Errorf("oidctest: build signer: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: encode claims: %w", err)
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidctest: sign: %w", err)
	}
	return sig.CompactSerialize()
}

// KeyID returns the "kid" of the provider's signing key.
func (p *Provider) KeyID() string { return p.key.id }

func (p *Provider) user(subject string) *User {
	for i := range p.cfg.Users {
		if p.cfg.Users[i].Subject == subject {
			return &p.cfg.Users[i]
		}
	}
	return nil
}

// fillUserinfo sets the claims of subject that scopes release, plus groups and Claims.
func (p *Provider) fillUserinfo(info *oidc.UserInfo, subject string, scopes []string) {
	u := p.user(subject)
	if u == nil {
		return
	}
	info.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = u.Name
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email, info.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
		if u.Email != "" && !u.EmailVerified {
			// The struct field drops false; an unverified address must say so.
			info.AppendClaims("email_verified", false)
		}
	}
	if u.Groups != nil {
		info.AppendClaims("groups", slices.Clone(u.Groups))
	}
	for k, v := range u.Claims {
		info.AppendClaims(k, v)
	}
}

// serveLogin is the provider's sign-in page: GET shows the form for an authorization request,
// POST checks the password and sends the browser back to the op package's callback.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, page{Title: "Bad request", Message: "The form could not be read."})
		return
	}
	id := r.Form.Get("id")
	if _, err := p.store.AuthRequestByID(r.Context(), id); err != nil {
		writePage(w, http.StatusBadRequest, page{Title: "Unknown request", Message: "This sign-in request is unknown or finished."})
		return
	}
	switch r.Method {
	case http.MethodGet:
		writePage(w, http.StatusOK, page{Title: "Test provider sign-in", ID: id, Form: true})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	u := p.user(r.PostForm.Get("username"))
	if u == nil || u.Password != r.PostForm.Get("password") {
		writePage(w, http.StatusUnauthorized, page{Title: "Test provider sign-in", ID: id, Form: true, Message: "Wrong username or password."})
		return
	}
	if !p.store.completeLogin(id, u.Subject) {
		writePage(w, http.StatusBadRequest, page{Title: "Unknown request", Message: "This sign-in request is unknown or finished."})
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), p.URL)
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(ctx, id), http.StatusFound)
}

type page struct {
	Title, Message, ID string
	Form               bool
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title><link rel="icon" href="data:,"></head>
<body><h1>{{.Title}}</h1>
{{with .Message}}<p id="message">{{.}}</p>{{end}}
{{if .Form}}<form method="post" action="` + loginPath + `">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
<p><button id="submit" type="submit">Sign in</button></p>
</form>{{end}}
</body></html>`))

func writePage(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, p); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		return
	}
}
