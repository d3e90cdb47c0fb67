package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/MicahParks/jwkset"
)

// GenerateKey returns a new private key for alg: a P-256, P-384 or P-521 key for ES256, ES384
// or ES512, a 2048-bit RSA key for RS* and PS*, and an Ed25519 key for EdDSA. RSA keys are 2048
// bits for every hash because larger keys make each verification 6 to 14 times dearer, and the
// verifier runs for every unauthenticated request. HS* algorithms use GenerateSecret instead.
func GenerateKey(alg string) (crypto.Signer, error) {
	a, err := lookupAlgorithm(alg)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	switch a.kind {
	case kindRSA:
		k, err := rsa.GenerateKey(rand.Reader, minRSABits)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	case kindECDSA:
		k, err := ecdsa.GenerateKey(a.curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	case kindEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("generate key: %s uses a shared secret, not a key pair; use GenerateSecret", alg)
}

// GenerateSecret returns a random HMAC secret for HS256, HS384 or HS512, as long as the hash
// (32, 48 or 64 bytes). Store it base64-encoded; it is binary.
func GenerateSecret(alg string) ([]byte, error) {
	a, err := lookupAlgorithm(alg)
	if err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	if a.kind != kindHMAC {
		return nil, fmt.Errorf("generate secret: %s uses a key pair; use GenerateKey", alg)
	}
	secret := make([]byte, a.minSecret)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	return secret, nil
}

// EncodePrivateKeyPEM encodes priv as a PKCS #8 "PRIVATE KEY" PEM block, the form
// LoadPrivateKeyPEM reads.
func EncodePrivateKeyPEM(priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block, the form
// Config.PublicKeyFile reads.
func EncodePublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// LoadPrivateKeyPEM reads a private key for signing tokens from a PEM file: PKCS #8
// ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Encrypted PEM is not
// supported, and RSA keys shorter than 2048 bits are refused.
func LoadPrivateKeyPEM(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	k, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	return k, nil
}

func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, err := singlePEMBlock(data)
	if err != nil {
		return nil, err
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, errors.New("encrypted PEM is not supported")
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	if k, ok := signer.(*rsa.PrivateKey); ok {
		if err := checkRSAPublicKey(&k.PublicKey); err != nil {
			return nil, err
		}
	}
	return signer, nil
}

// parsePublicKeyPEM reads the one public key a PEM file holds.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, err := singlePEMBlock(data)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the file holds a private key; give the verifier only the public key (EncodePublicKeyPEM)")
	}
	return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
}

func singlePEMBlock(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block; the file must hold exactly one key")
	}
	return block, nil
}

// PublicJWKS returns a JSON Web Key Set holding pub for alg, with "use":"sig", for an identity
// service to publish at the URL Config.JWKSURL points to. When kid is empty the key's RFC 7638
// thumbprint is used.
func PublicJWKS(pub crypto.PublicKey, alg, kid string) ([]byte, error) {
	a, err := lookupAlgorithm(alg)
	if err != nil {
		return nil, fmt.Errorf("public JWKS: %w", err)
	}
	if _, err := bindPublicKey(pub, a, kid); err != nil {
		return nil, fmt.Errorf("public JWKS: %w", err)
	}
	if kid == "" {
		if kid, err = Thumbprint(pub); err != nil {
			return nil, fmt.Errorf("public JWKS: %w", err)
		}
	}
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		ALG: jwkset.ALG(alg),
		KID: kid,
		USE: jwkset.UseSig,
	}})
	if err != nil {
		return nil, fmt.Errorf("public JWKS: %w", err)
	}
	out, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		return nil, fmt.Errorf("public JWKS: %w", err)
	}
	return out, nil
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of pub, base64url-encoded; it makes a
// stable key ID.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var buf bytes.Buffer
	// The required members in lexicographic order, without white space (RFC 7638 §3.2).
	switch k := pub.(type) {
	case *rsa.PublicKey:
		fmt.Fprintf(&buf, `{"e":"%s","kty":"RSA","n":"%s"}`, b64(big.NewInt(int64(k.E)).Bytes()), b64(k.N.Bytes()))
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		size := (len(point) - 1) / 2
		fmt.Fprintf(&buf, `{"crv":"%s","kty":"EC","x":"%s","y":"%s"}`, k.Curve.Params().Name, b64(point[1:1+size]), b64(point[1+size:]))
	case ed25519.PublicKey:
		fmt.Fprintf(&buf, `{"crv":"Ed25519","kty":"OKP","x":"%s"}`, b64(k))
	default:
		return "", fmt.Errorf("thumbprint: unsupported public key type %T", pub)
	}
	sum := sha256.Sum256(buf.Bytes())
	return b64(sum[:]), nil
}
