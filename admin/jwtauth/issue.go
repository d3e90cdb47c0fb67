package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IssueParams describes a token for Issue.
type IssueParams struct {
	// Subject is the "sub" claim, the user ID. Required.
	Subject string
	// Name is the "name" claim, the display name; omitted when empty.
	Name string
	// Audience is the "aud" claim; omitted when empty.
	Audience string
	// Issuer is the "iss" claim; omitted when empty.
	Issuer string
	// TTL sets "exp" to now plus TTL. Required: the verifier refuses tokens without "exp" by
	// default.
	TTL time.Duration
	// Roles is the "roles" claim; omitted when empty.
	Roles []string
	// Admin sets "is_admin": true.
	Admin bool
	// Extra holds further claims. It may not redefine the claims above, nor "iat" and "jti".
	Extra map[string]any
	// KeyID is the "kid" header, which a verifier using a JWKS needs to pick the key.
	KeyID string
	// Now is the issue time; default time.Now.
	Now func() time.Time
}

var reservedClaims = []string{"sub", "name", "aud", "iss", "exp", "nbf", "iat", "jti", "roles", "is_admin"}

// Issue signs a token for params with alg and key: a []byte secret for HS256, HS384 and HS512
// (at least as long as the hash), or a crypto.Signer (*rsa.PrivateKey for RS* and PS*,
// *ecdsa.PrivateKey on the matching curve for ES*, ed25519.PrivateKey for EdDSA). The token
// carries "iat", "exp" and a random "jti" besides the claims params asks for.
func Issue(params IssueParams, alg string, key any) (string, error) {
	a, err := lookupAlgorithm(alg)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	if params.Subject == "" {
		return "", errors.New("issue token: subject is required")
	}
	if params.TTL <= 0 {
		return "", fmt.Errorf("issue token: TTL %v must be positive", params.TTL)
	}
	if err := checkSigningKey(a, key); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	now := time.Now
	if params.Now != nil {
		now = params.Now
	}
	t := now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}

	claims := jwt.MapClaims{}
	for _, name := range reservedClaims {
		if _, ok := params.Extra[name]; ok {
			return "", fmt.Errorf("issue token: extra claim %q would override a standard claim", name)
		}
	}
	maps.Copy(claims, params.Extra)
	claims["sub"] = params.Subject
	claims["iat"] = t.Unix()
	claims["exp"] = t.Add(params.TTL).Unix()
	claims["jti"] = base64.RawURLEncoding.EncodeToString(jti)
	if params.Name != "" {
		claims["name"] = params.Name
	}
	if params.Audience != "" {
		claims["aud"] = params.Audience
	}
	if params.Issuer != "" {
		claims["iss"] = params.Issuer
	}
	if len(params.Roles) > 0 {
		claims["roles"] = params.Roles
	}
	if params.Admin {
		claims["is_admin"] = true
	}

	tok := jwt.NewWithClaims(a.method, claims)
	if params.KeyID != "" {
		tok.Header["kid"] = params.KeyID
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("issue token: sign with %s: %w", alg, err)
	}
	return s, nil
}

// checkSigningKey refuses keys that a verifier of this package would refuse, so that Issue
// cannot mint tokens nobody accepts.
func checkSigningKey(a *algorithm, key any) error {
	switch k := key.(type) {
	case []byte:
		_, err := bindSecret(k, a)
		return err
	case crypto.Signer:
		switch k.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		default:
			return fmt.Errorf("unsupported signing key type %T", key)
		}
		_, err := bindPublicKey(k.Public(), a, "")
		return err
	}
	return fmt.Errorf("unsupported signing key type %T (want []byte or crypto.Signer)", key)
}
