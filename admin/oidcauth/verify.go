package oidcauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/asyncmq/asyncmq/admin/jwtauth"
)

// maxIDTokenSize bounds an ID token before any decoding; a user in many groups can make one
// several kilobytes long.
const maxIDTokenSize = 64 << 10

// idTokenLeeway is the clock skew allowed on "iat" and "nbf" between the provider and us.
// Expiry is checked without leeway.
const idTokenLeeway = time.Minute

// errIDToken marks an ID token that was refused; its message says which rule failed.
var errIDToken = errors.New("ID token refused")

// jwtKeySet verifies ID token signatures with a jwtauth.Verifier, so that ID tokens meet the
// same rules as the dashboard's bearer tokens: an algorithm allow list without "none" or HMAC,
// keys bound to one algorithm, RSA keys of at least 2048 bits, a bounded JWKS refetch for
// unknown key IDs, and issuer, audience and expiry checked once more.
type jwtKeySet struct{ v *jwtauth.Verifier }

// VerifySignature implements oidc.KeySet.
func (k jwtKeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	if _, err := k.v.Verify(ctx, raw); err != nil {
		return nil, err
	}
	_, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	return base64.RawURLEncoding.DecodeString(payload)
}

// newVerifiers builds the strict signature verifier on the provider's JWKS and the go-oidc ID
// token verifier on top of it.
func newVerifiers(ctx context.Context, s *settings, jwksURL string, advertised []string) (*jwtauth.Verifier, *oidc.IDTokenVerifier, error) {
	algs := s.Algorithms
	if len(algs) == 0 {
		for _, a := range advertised {
			if slices.Contains(asymmetricAlgorithms, a) {
				algs = append(algs, a)
			}
		}
		if len(advertised) == 0 {
			// OpenID Connect Discovery makes RS256 the one algorithm every provider supports.
			algs = []string{"RS256"}
		}
		if len(algs) == 0 {
			return nil, nil, fmt.Errorf("provider %s advertises no ID token algorithm this backend accepts (%s), only %s",
				s.Issuer, strings.Join(asymmetricAlgorithms, ", "), strings.Join(advertised, ", "))
		}
	}
	jv, err := jwtauth.NewVerifier(ctx, jwtauth.Config{
		JWKSURL:      jwksURL,
		HTTPClient:   s.HTTPClient,
		Algorithms:   algs,
		Audience:     s.ClientID,
		Issuer:       s.Issuer,
		Leeway:       idTokenLeeway,
		MaxTokenSize: maxIDTokenSize,
		CacheSize:    -1,
		Logger:       s.Logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load the provider's signing keys from %s: %w", jwksURL, err)
	}
	ov := oidc.NewVerifier(s.Issuer, jwtKeySet{jv}, &oidc.Config{ClientID: s.ClientID, SupportedSigningAlgs: algs})
	return jv, ov, nil
}

// verifiedToken is an ID token that passed every check.
type verifiedToken struct {
	claims map[string]any
	expiry time.Time
	nonce  string
}

// verifyIDToken checks raw's signature, issuer, audience, authorized party and expiry, and
// returns its claims. The nonce is the caller's to compare.
func (b *Backend) verifyIDToken(ctx context.Context, raw string) (*verifiedToken, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token", errIDToken)
	}
	if len(raw) > maxIDTokenSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", errIDToken, maxIDTokenSize)
	}
	tok, err := b.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errIDToken, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: decode claims: %w", errIDToken, err)
	}
	// OpenID Connect Core §3.1.3.7: a token for several audiences must name us as its
	// authorized party, and an "azp" naming someone else is never ours.
	azp, hasAZP := claims["azp"]
	if hasAZP && azp != b.s.ClientID {
		return nil, fmt.Errorf("%w: authorized party %v is not this client", errIDToken, azp)
	}
	if len(tok.Audience) > 1 && !hasAZP {
		return nil, fmt.Errorf("%w: several audiences and no authorized party", errIDToken)
	}
	return &verifiedToken{claims: claims, expiry: tok.Expiry, nonce: tok.Nonce}, nil
}

// sameString compares two secrets in constant time; empty never matches.
func sameString(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// unmarshal reads a session value kept as a JSON string (admin.Session stores strings).
func unmarshal(s string, v any) bool { return s != "" && json.Unmarshal([]byte(s), v) == nil }
