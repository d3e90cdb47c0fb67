package jwtauth

import (
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Defaults and limits of Config.
const (
	// DefaultMaxTokenSize is the default Config.MaxTokenSize.
	DefaultMaxTokenSize = 8 << 10
	// MaxLeeway is the largest Config.Leeway accepted.
	MaxLeeway = 5 * time.Minute
	// DefaultCacheSize is the default Config.CacheSize.
	DefaultCacheSize = 10_000
	// MaxCacheTTL is the default and the largest Config.CacheTTL.
	MaxCacheTTL = time.Minute
	// DefaultJWKSRefreshInterval is the default Config.JWKSRefreshInterval.
	DefaultJWKSRefreshInterval = time.Hour
	// DefaultRefreshUnknownKIDInterval is the default Config.RefreshUnknownKIDInterval.
	DefaultRefreshUnknownKIDInterval = time.Minute
)

// Config configures a Verifier and a Backend. Exactly one key source must be set: Secret,
// PublicKeyFile, PublicKey or JWKSURL. Every other field has a usable zero value.
type Config struct {
	// Secret is the shared HMAC key for HS256, HS384 or HS512. It must be at least as long as
	// the hash (32, 48 or 64 bytes); generate one with GenerateSecret rather than typing a
	// password, which is crackable offline from a single token.
	Secret []byte

	// PublicKeyFile is a PEM file holding one RSA, ECDSA or Ed25519 public key ("PUBLIC KEY",
	// "RSA PUBLIC KEY" or a "CERTIFICATE" whose key is used). It is read once, by NewVerifier.
	PublicKeyFile string

	// PublicKey is the verification key itself, as an alternative to PublicKeyFile:
	// *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	PublicKey crypto.PublicKey

	// JWKSURL is a JSON Web Key Set to fetch the verification keys from, such as an identity
	// provider's jwks_uri. It must use https, except for loopback hosts. NewVerifier fetches it
	// once and fails if that fails; the set is then refreshed every JWKSRefreshInterval, and a
	// token whose "kid" is not in the set triggers at most one extra fetch per
	// RefreshUnknownKIDInterval. Keys the set offers are refused unless they are RSA (≥2048
	// bits), EC or Ed25519 public keys with an "alg" this package supports that fits the key, a
	// "use" of "sig" (or none), and a "kid" no other key in the set has.
	JWKSURL string

	// JWKSRefreshInterval is how often the JWKS is fetched again. Default 1h.
	JWKSRefreshInterval time.Duration

	// RefreshUnknownKIDInterval is the least time between two fetches triggered by unknown key
	// IDs, so that tokens with made-up "kid" values cannot make the verifier flood the key
	// server. Default 1m.
	RefreshUnknownKIDInterval time.Duration

	// HTTPClient fetches the JWKS. Default: a client with a 10 s timeout.
	HTTPClient *http.Client

	// Algorithms lists the accepted "alg" values. With Secret or a single public key it may
	// name only one algorithm, because a key must be used with exactly one (RFC 8725 §3.1); the
	// default is HS256 for a secret and, for a public key, RS256, ES256/ES384/ES512 (by curve)
	// or EdDSA. With JWKSURL it restricts which keys of the set are used; the default accepts
	// every asymmetric algorithm, each key being bound to the "alg" the set declares for it.
	// "none" is never accepted.
	Algorithms []string

	// Audience, when set, must appear in the token's "aud" claim (a string or an array of
	// strings). When it is empty, tokens that carry an "aud" claim are refused, as RFC 7519
	// §4.1.3 requires of a recipient that does not identify itself with any audience.
	Audience string

	// Issuer, when set, must equal the token's "iss" claim exactly.
	Issuer string

	// Leeway is the clock skew allowed when checking "exp", "nbf" and "iat". Default 0; at most
	// 5m.
	Leeway time.Duration

	// RequireExp makes tokens without an "exp" claim invalid. Default true; tokens that never
	// expire cannot be revoked short of rotating the key.
	RequireExp *bool

	// HeaderName is the request header carrying the token. Default "Authorization".
	HeaderName string

	// Scheme is the authentication scheme that must precede the token in HeaderName, compared
	// case-insensitively. Default "Bearer".
	Scheme string

	// CookieName, when set, is a cookie that may carry the token (optionally prefixed by
	// "Bearer ") when the header is absent, and the login page offers a form that stores a
	// pasted token in it. Default "": tokens are accepted from the header only.
	CookieName string

	// UserClaim names the claim holding the user ID; it must be a non-empty string. Default
	// "sub".
	UserClaim string
	// NameClaim names the claim holding the display name. Default "name"; when it is absent or
	// not a string, the user ID is shown instead.
	NameClaim string
	// AdminClaim names the claim that grants the admin role: JSON true, or a string such as
	// "true", "yes", "on" or "1". Default "is_admin".
	AdminClaim string
	// RolesClaim names the claim listing the user's roles: a string or an array of strings.
	// Default "roles".
	RolesClaim string

	// MaxTokenSize is the largest token accepted, in bytes; longer ones are refused before any
	// decoding. Default 8 KiB.
	MaxTokenSize int

	// CacheSize bounds the number of verified tokens remembered. Default 10 000; a negative
	// value turns the cache off.
	CacheSize int
	// CacheTTL is how long a verified token is remembered; never beyond its "exp". Default and
	// maximum 1m. A key removed from a JWKS stops verifying new tokens at once, and the cache is
	// cleared whenever the key set changes.
	CacheTTL time.Duration

	// Logger receives the reason a token was refused (at debug level) and JWKS refresh
	// problems (at warn level). Tokens and secrets are never logged. Default slog.Default().
	Logger *slog.Logger

	// Now returns the current time; tests set it. Default time.Now.
	Now func() time.Time
}

// settings is a validated Config with its defaults applied.
type settings struct {
	Config
	headerKey  string // canonical form of HeaderName
	requireExp bool
	algs       []string
}

func (c Config) settings() (*settings, error) {
	s := &settings{Config: c}
	sources := 0
	for _, set := range []bool{len(c.Secret) > 0, c.PublicKeyFile != "", c.PublicKey != nil, c.JWKSURL != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return nil, errors.New("no key configured: set one of Secret, PublicKeyFile, PublicKey or JWKSURL")
	case sources > 1:
		return nil, errors.New("more than one key source configured: set only one of Secret, PublicKeyFile, PublicKey or JWKSURL")
	}
	if c.Secret != nil && len(c.Secret) == 0 {
		return nil, errors.New("secret is empty")
	}

	for _, name := range c.Algorithms {
		if _, err := lookupAlgorithm(name); err != nil {
			return nil, fmt.Errorf("algorithms: %w", err)
		}
	}
	s.algs = c.Algorithms

	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		return nil, fmt.Errorf("leeway %v out of range [0, %v]", c.Leeway, MaxLeeway)
	}
	s.requireExp = c.RequireExp == nil || *c.RequireExp

	if s.HeaderName == "" {
		s.HeaderName = "Authorization"
	}
	s.headerKey = textproto.CanonicalMIMEHeaderKey(s.HeaderName)
	if s.Scheme == "" {
		s.Scheme = "Bearer"
	}
	if strings.ContainsAny(s.Scheme, " \t") {
		return nil, fmt.Errorf("scheme %q contains white space", s.Scheme)
	}
	if c.CookieName != "" && !validCookieName(c.CookieName) {
		return nil, fmt.Errorf("cookie name %q is not a valid cookie name", c.CookieName)
	}

	if s.UserClaim == "" {
		s.UserClaim = "sub"
	}
	if s.NameClaim == "" {
		s.NameClaim = "name"
	}
	if s.AdminClaim == "" {
		s.AdminClaim = "is_admin"
	}
	if s.RolesClaim == "" {
		s.RolesClaim = "roles"
	}

	switch {
	case s.MaxTokenSize < 0:
		return nil, fmt.Errorf("max token size %d is negative", s.MaxTokenSize)
	case s.MaxTokenSize == 0:
		s.MaxTokenSize = DefaultMaxTokenSize
	}
	if s.CacheSize == 0 {
		s.CacheSize = DefaultCacheSize
	}
	switch {
	case s.CacheTTL < 0 || s.CacheTTL > MaxCacheTTL:
		return nil, fmt.Errorf("cache TTL %v out of range [0, %v]", s.CacheTTL, MaxCacheTTL)
	case s.CacheTTL == 0:
		s.CacheTTL = MaxCacheTTL
	}

	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil {
			return nil, fmt.Errorf("JWKS URL: %w", err)
		}
		if u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
			return nil, fmt.Errorf("JWKS URL %q must use https (http is accepted for loopback hosts only)", c.JWKSURL)
		}
	}
	if s.JWKSRefreshInterval < 0 || s.RefreshUnknownKIDInterval < 0 {
		return nil, errors.New("JWKS refresh intervals must not be negative")
	}
	if s.JWKSRefreshInterval == 0 {
		s.JWKSRefreshInterval = DefaultJWKSRefreshInterval
	}
	if s.RefreshUnknownKIDInterval == 0 {
		s.RefreshUnknownKIDInterval = DefaultRefreshUnknownKIDInterval
	}
	if s.HTTPClient == nil {
		s.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return name != ""
}
