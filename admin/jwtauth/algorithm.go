package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// minRSABits is the smallest RSA modulus accepted for verification or signing (RFC 7518 §3.3).
const minRSABits = 2048

type keyKind int

const (
	kindHMAC keyKind = iota + 1
	kindRSA
	kindECDSA
	kindEd25519
)

func (k keyKind) String() string {
	switch k {
	case kindHMAC:
		return "HMAC secret"
	case kindRSA:
		return "RSA key"
	case kindECDSA:
		return "ECDSA key"
	case kindEd25519:
		return "Ed25519 key"
	}
	return "unknown key"
}

// algorithm is one JWS algorithm this package accepts, with the golang-jwt method that checks
// its signatures.
type algorithm struct {
	name   string
	kind   keyKind
	method jwt.SigningMethod
	// minSecret is the minimum HMAC key length: the hash size (RFC 7518 §3.2).
	minSecret int
	// curve is the one curve an ES* algorithm may be used with.
	curve elliptic.Curve
}

// pss returns an RSA-PSS method that signs and verifies with the salt length RFC 7518 §3.5
// prescribes. golang-jwt's own PS* methods verify with PSSSaltLengthAuto, which accepts any salt
// length; building private instances avoids changing the library's globals for other users.
func pss(name string, h crypto.Hash) *jwt.SigningMethodRSAPSS {
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	return &jwt.SigningMethodRSAPSS{
		SigningMethodRSA: &jwt.SigningMethodRSA{Name: name, Hash: h},
		Options:          opts,
		VerifyOptions:    opts,
	}
}

var algorithms = map[string]*algorithm{
	"HS256": {name: "HS256", kind: kindHMAC, method: jwt.SigningMethodHS256, minSecret: 32},
	"HS384": {name: "HS384", kind: kindHMAC, method: jwt.SigningMethodHS384, minSecret: 48},
	"HS512": {name: "HS512", kind: kindHMAC, method: jwt.SigningMethodHS512, minSecret: 64},
	"RS256": {name: "RS256", kind: kindRSA, method: jwt.SigningMethodRS256},
	"RS384": {name: "RS384", kind: kindRSA, method: jwt.SigningMethodRS384},
	"RS512": {name: "RS512", kind: kindRSA, method: jwt.SigningMethodRS512},
	"PS256": {name: "PS256", kind: kindRSA, method: pss("PS256", crypto.SHA256)},
	"PS384": {name: "PS384", kind: kindRSA, method: pss("PS384", crypto.SHA384)},
	"PS512": {name: "PS512", kind: kindRSA, method: pss("PS512", crypto.SHA512)},
	"ES256": {name: "ES256", kind: kindECDSA, method: jwt.SigningMethodES256, curve: elliptic.P256()},
	"ES384": {name: "ES384", kind: kindECDSA, method: jwt.SigningMethodES384, curve: elliptic.P384()},
	"ES512": {name: "ES512", kind: kindECDSA, method: jwt.SigningMethodES512, curve: elliptic.P521()},
	"EdDSA": {name: "EdDSA", kind: kindEd25519, method: jwt.SigningMethodEdDSA},
}

// asymmetricAlgorithms is what a JWKS may offer when Config.Algorithms is empty.
var asymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
}

// lookupAlgorithm returns the algorithm named exactly name (JWS names are case-sensitive).
func lookupAlgorithm(name string) (*algorithm, error) {
	a, ok := algorithms[name]
	if !ok {
		return nil, fmt.Errorf("unsupported algorithm %q (supported: HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", name)
	}
	return a, nil
}

// boundKey is a verification key together with the one algorithm it may be used with
// (RFC 8725 §3.1).
type boundKey struct {
	alg *algorithm
	key any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	kid string
}

// AlgorithmForKey returns the algorithm a public key implies when the configuration names none:
// RS256 for RSA, ES256/ES384/ES512 by curve, EdDSA for Ed25519. Pass a private key's Public() to
// find what a token signed with it should carry.
func AlgorithmForKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("unsupported public key type %T (want *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey)", pub)
}

// bindPublicKey checks that pub is strong enough and fits alg, and returns the pair.
func bindPublicKey(pub crypto.PublicKey, alg *algorithm, kid string) (*boundKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg.kind != kindRSA {
			return nil, fmt.Errorf("an RSA key cannot be used with %s", alg.name)
		}
		if err := checkRSAPublicKey(k); err != nil {
			return nil, err
		}
	case *ecdsa.PublicKey:
		if alg.kind != kindECDSA {
			return nil, fmt.Errorf("an ECDSA key cannot be used with %s", alg.name)
		}
		if k.Curve != alg.curve {
			return nil, fmt.Errorf("%s needs a %s key, not %s", alg.name, alg.curve.Params().Name, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if alg.kind != kindEd25519 {
			return nil, fmt.Errorf("an Ed25519 key cannot be used with %s", alg.name)
		}
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
	default:
		return nil, fmt.Errorf("unsupported public key type %T (want *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey)", pub)
	}
	return &boundKey{alg: alg, key: pub, kid: kid}, nil
}

func checkRSAPublicKey(k *rsa.PublicKey) error {
	if k.N == nil || k.N.BitLen() < minRSABits {
		bits := 0
		if k.N != nil {
			bits = k.N.BitLen()
		}
		return fmt.Errorf("RSA key has %d bits, want at least %d", bits, minRSABits)
	}
	// Small or even exponents are either broken or a sign of a crafted key; 2^31-1 is the
	// largest crypto/rsa accepts.
	if k.E < 3 || k.E%2 == 0 || k.E > 1<<31-1 {
		return fmt.Errorf("RSA key has an invalid public exponent %d", k.E)
	}
	return nil
}

// bindSecret checks an HMAC secret against alg.
func bindSecret(secret []byte, alg *algorithm) (*boundKey, error) {
	if alg.kind != kindHMAC {
		return nil, fmt.Errorf("a shared secret cannot be used with %s", alg.name)
	}
	if len(secret) < alg.minSecret {
		return nil, fmt.Errorf("%s secret is %d bytes, want at least %d (RFC 7518 §3.2)", alg.name, len(secret), alg.minSecret)
	}
	return &boundKey{alg: alg, key: slices.Clone(secret)}, nil
}
