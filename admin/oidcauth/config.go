package oidcauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults of Config.
const (
	// DefaultProviderName is shown on the sign-in button when Config.ProviderName is empty.
	DefaultProviderName = "single sign-on"
	// DefaultRolesClaim is the claim roles are read from when Config.RolesClaim is empty.
	DefaultRolesClaim = "groups"
	// DefaultMaxSessionLifetime bounds a session, refreshes included, when
	// Config.MaxSessionLifetime is 0.
	DefaultMaxSessionLifetime = 12 * time.Hour
	// DefaultHTTPTimeout bounds each request to the provider when Config.HTTPClient is nil.
	DefaultHTTPTimeout = 10 * time.Second
	// CallbackPath is the callback route under the admin's prefix; Config.RedirectURL must end
	// with it.
	CallbackPath = "/oidc/callback"
)

// DefaultScopes are the scopes requested when Config.Scopes is empty.
var DefaultScopes = []string{"openid", "profile", "email"}

// Roles are the dashboard roles a user can be given, weakest first.
var Roles = []string{"viewer", "operator", "admin"}

// Config configures the backend. Issuer, ClientID and RedirectURL are required.
type Config struct {
	// Issuer is the provider's issuer URL, such as https://accounts.example.com/realms/main; its
	// discovery document is read from Issuer + "/.well-known/openid-configuration" by New. It
	// must use https, except on a loopback host.
	Issuer string
	// ClientID is this dashboard's client ID at the provider; ID tokens must name it in "aud".
	ClientID string
	// ClientSecret is the client secret; "" for a public client, which PKCE still protects.
	// Give it from a file or the environment, never on a command line. It is never logged.
	ClientSecret string
	// RedirectURL is the callback URL registered at the provider: the dashboard's public URL
	// followed by CallbackPath, such as https://ops.example.com/asyncmq/oidc/callback.
	RedirectURL string
	// PostLogoutRedirectURL is where the provider sends the browser after RP-initiated logout;
	// register it at the provider. Default: RedirectURL's origin and the admin's login page
	// (RedirectURL with CallbackPath replaced by "/login").
	PostLogoutRedirectURL string
	// Scopes are the scopes requested; "openid" is added when missing. Default DefaultScopes.
	// Add "offline_access" (or what the provider wants) to be granted a refresh token.
	Scopes []string
	// ProviderName labels the sign-in button: "Sign in with <ProviderName>". Default
	// DefaultProviderName.
	ProviderName string

	// RolesClaim is the claim holding the user's groups or roles: a top-level name such as
	// "groups" or "roles", or a dotted path into nested objects such as "realm_access.roles"
	// (Keycloak). Its value is a string or an array of strings. Default DefaultRolesClaim.
	RolesClaim string
	// RoleMap maps a value of RolesClaim (a provider group) to a dashboard role: "viewer",
	// "operator" or "admin". Values named exactly like a role count as that role without an
	// entry. Default none.
	RoleMap map[string]string
	// DefaultRole is the role of a user admitted by AllowedDomains, AllowedGroups or
	// RequiredClaim who holds no role through RolesClaim. Default "viewer".
	DefaultRole string

	// AllowedDomains admits users whose verified "email" is in one of these domains (compared
	// without case; an email with "email_verified": false does not count).
	AllowedDomains []string
	// AllowedGroups admits users whose RolesClaim holds one of these values.
	AllowedGroups []string
	// RequiredClaim admits users whose ID token has this claim: "name" admits any value that
	// admin.Truthy accepts, "name=value" a string equal to value or an array holding it; the
	// name may be a dotted path.
	RequiredClaim string
	// A user is admitted when AllowedDomains, AllowedGroups or RequiredClaim admits them, or
	// when they hold a role through RolesClaim; anyone else gets 403.

	// Algorithms are the accepted ID token signature algorithms. Default: those the provider
	// advertises among RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA.
	// "none" and the HMAC algorithms are refused.
	Algorithms []string
	// MaxSessionLifetime bounds a session from sign-in, refreshes included. Default
	// DefaultMaxSessionLifetime. Sessions also end with the admin's Session.Lifetime.
	MaxSessionLifetime time.Duration

	// Audit, when set, is told of every sign-in, admitted or refused. It runs in the request
	// and should be quick.
	Audit func(ctx context.Context, e AuditEvent)
	// HTTPClient makes every request to the provider. Default: a client with a
	// DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// Logger receives sign-ins, refusals and provider errors; tokens, codes and the client
	// secret are never logged. Default slog.Default().
	Logger *slog.Logger
}

// AuditEvent is a sign-in as told to Config.Audit.
type AuditEvent struct {
	// Actor is the user's "sub", as the dashboard records it for every later action.
	Actor string
	// Action is "auth.login".
	Action string
	// Status is "success" or "denied".
	Status string
	// Detail is the user's email, if any, and why they were refused or which roles they got.
	Detail string
}

// ConfigError is a refused Config; Field names the field at fault.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "oidcauth: Config." + e.Field + ": " + e.Msg }

func configErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// settings is a checked Config with its defaults.
type settings struct {
	Config
	requiredName, requiredValue string
	hasRequiredValue            bool
}

func (c Config) settings() (*settings, error) {
	s := &settings{Config: c}
	if err := checkURL("Issuer", c.Issuer); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return nil, configErr("ClientID", "is required")
	}
	if err := checkURL("RedirectURL", c.RedirectURL); err != nil {
		return nil, err
	}
	ru, _ := url.Parse(c.RedirectURL)
	if !strings.HasSuffix(ru.Path, CallbackPath) || ru.RawQuery != "" || ru.Fragment != "" {
		return nil, configErr("RedirectURL", "%q must be the dashboard's URL followed by %s, without a query", c.RedirectURL, CallbackPath)
	}
	if c.PostLogoutRedirectURL != "" {
		if err := checkURL("PostLogoutRedirectURL", c.PostLogoutRedirectURL); err != nil {
			return nil, err
		}
	}
	if len(s.Scopes) == 0 {
		s.Scopes = slices.Clone(DefaultScopes)
	}
	for _, sc := range s.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return nil, configErr("Scopes", "%q is not a scope", sc)
		}
	}
	if !slices.Contains(s.Scopes, "openid") {
		s.Scopes = append([]string{"openid"}, s.Scopes...)
	}
	if s.ProviderName == "" {
		s.ProviderName = DefaultProviderName
	}
	if s.RolesClaim == "" {
		s.RolesClaim = DefaultRolesClaim
	}
	if !validPath(s.RolesClaim) {
		return nil, configErr("RolesClaim", "%q must be a claim name or a dotted path such as realm_access.roles", s.RolesClaim)
	}
	for group, role := range s.RoleMap {
		if strings.TrimSpace(group) == "" || !slices.Contains(Roles, role) {
			return nil, configErr("RoleMap", "%q=%q: want a group name mapped to viewer, operator or admin", group, role)
		}
	}
	if s.DefaultRole == "" {
		s.DefaultRole = "viewer"
	}
	if !slices.Contains(Roles, s.DefaultRole) {
		return nil, configErr("DefaultRole", "%q: want viewer, operator or admin", s.DefaultRole)
	}
	for _, d := range s.AllowedDomains {
		if d = strings.TrimPrefix(d, "@"); d == "" || strings.ContainsAny(d, "@ /") {
			return nil, configErr("AllowedDomains", "%q is not a domain", d)
		}
	}
	if s.RequiredClaim != "" {
		name, value, ok := strings.Cut(s.RequiredClaim, "=")
		if !validPath(name) {
			return nil, configErr("RequiredClaim", "%q: want name or name=value", s.RequiredClaim)
		}
		s.requiredName, s.requiredValue, s.hasRequiredValue = name, value, ok
	}
	for _, a := range s.Algorithms {
		if !slices.Contains(asymmetricAlgorithms, a) {
			return nil, configErr("Algorithms", "%q: want some of %s", a, strings.Join(asymmetricAlgorithms, ", "))
		}
	}
	if s.MaxSessionLifetime < 0 {
		return nil, configErr("MaxSessionLifetime", "must not be negative")
	}
	if s.MaxSessionLifetime == 0 {
		s.MaxSessionLifetime = DefaultMaxSessionLifetime
	}
	if s.HTTPClient == nil {
		s.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s, nil
}

// asymmetricAlgorithms are the ID token algorithms accepted; the HMAC ones would make the
// client secret a signing key, and "none" is never accepted.
var asymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func checkURL(field, raw string) error {
	if raw == "" {
		return configErr(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return configErr(field, "%q is not a URL", raw)
	}
	if u.Host == "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return configErr(field, "%q must be an https URL (http only on a loopback host)", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	return host == "::1" || strings.HasPrefix(host, "127.")
}

// validPath reports whether p is a claim name or a dotted path of names.
func validPath(p string) bool {
	if p == "" || strings.TrimSpace(p) != p {
		return false
	}
	for seg := range strings.SplitSeq(p, ".") {
		if seg == "" {
			return false
		}
	}
	return true
}

// Validate reports the first problem New would find in c without contacting the provider: a
// *ConfigError naming the field, or nil.
func (c Config) Validate() error {
	_, err := c.settings()
	return err
}
