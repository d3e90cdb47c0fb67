package jwtauth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
)

func TestIssueRoundTrip(t *testing.T) {
	t.Parallel()
	type keyed struct {
		alg  string
		sign any
		pub  crypto.PublicKey // nil for HMAC
	}
	tests := []keyed{
		{"HS256", testSecret, nil},
		{"HS384", secret384, nil},
		{"HS512", secret512, nil},
		{"RS256", rsaKey(), &rsaKey().PublicKey},
		{"RS512", rsaKey(), &rsaKey().PublicKey},
		{"PS256", rsaKey(), &rsaKey().PublicKey},
		{"PS384", rsaKey(), &rsaKey().PublicKey},
		{"ES256", ecKey(), &ecKey().PublicKey},
		{"ES384", ecKey384(), &ecKey384().PublicKey},
		{"ES512", ecKey521(), &ecKey521().PublicKey},
		{"EdDSA", edKey(), edKey().Public()},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Algorithms: []string{tt.alg}, Audience: "asyncmq-admin", Issuer: "https://issuer.example"}
			if tt.pub == nil {
				cfg.Secret = tt.sign.([]byte)
			} else {
				cfg.PublicKey = tt.pub
			}
			v := setup(t, cfg)
			tok, err := Issue(IssueParams{
				Subject: "alice", Name: "Alice", Audience: "asyncmq-admin", Issuer: "https://issuer.example",
				TTL: time.Hour, Roles: []string{"operator"}, Admin: true, Extra: map[string]any{"tenant": "acme"},
				KeyID: "k1", Now: fixedNow,
			}, tt.alg, tt.sign)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "alice" || got.Name != "Alice" || !got.IsAdmin || !slices.Equal(got.Roles, []string{"operator"}) ||
				got.Claims["tenant"] != "acme" || !got.ExpiresAt.Equal(testNow.Add(time.Hour)) {
				t.Errorf("token = %+v", got)
			}
			if jti, _ := got.Claims["jti"].(string); len(jti) < 20 {
				t.Errorf("jti = %q, want a random ID", jti)
			}
			h, err := headerOf(strings.Split(tok, ".")[0])
			if err != nil || !h.HasKID || h.Kid != "k1" || h.Alg != tt.alg {
				t.Errorf("header = %+v, %v", h, err)
			}
		})
	}
}

func TestIssueRejects(t *testing.T) {
	t.Parallel()
	ok := IssueParams{Subject: "alice", TTL: time.Hour}
	tests := []struct {
		name   string
		params IssueParams
		alg    string
		key    any
		want   string
	}{
		{"no subject", IssueParams{TTL: time.Hour}, "HS256", testSecret, "subject is required"},
		{"no TTL", IssueParams{Subject: "alice"}, "HS256", testSecret, "TTL"},
		{"negative TTL", IssueParams{Subject: "alice", TTL: -time.Second}, "HS256", testSecret, "TTL"},
		{"unknown alg", ok, "none", testSecret, "unsupported algorithm"},
		{"short secret", ok, "HS512", testSecret, "at least 64"},
		{"secret for RS256", ok, "RS256", testSecret, "cannot be used with RS256"},
		{"RSA key for ES256", ok, "ES256", rsaKey(), "RSA key cannot be used with ES256"},
		{"P-256 key for ES512", ok, "ES512", ecKey(), "ES512 needs a P-521 key"},
		{"weak RSA key", ok, "RS256", rsaKey1024(), "at least 2048"},
		{"public key", ok, "RS256", &rsaKey().PublicKey, "unsupported signing key type"},
		{"string key", ok, "HS256", string(testSecret), "unsupported signing key type"},
		{"extra overrides sub", IssueParams{Subject: "alice", TTL: time.Hour, Extra: map[string]any{"sub": "root"}}, "HS256", testSecret, `"sub" would override`},
		{"extra overrides is_admin", IssueParams{Subject: "alice", TTL: time.Hour, Extra: map[string]any{"is_admin": true}}, "HS256", testSecret, `"is_admin" would override`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Issue(tt.params, tt.alg, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestGenerateKeyAndPEM(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			priv, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			privPEM, err := EncodePrivateKeyPEM(priv)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := LoadPrivateKeyPEM(writeFile(t, "key.pem", privPEM))
			if err != nil {
				t.Fatalf("LoadPrivateKeyPEM: %v", err)
			}
			pubPEM, err := EncodePublicKeyPEM(loaded.Public())
			if err != nil {
				t.Fatal(err)
			}
			v := setup(t, Config{PublicKeyFile: writeFile(t, "pub.pem", pubPEM), Algorithms: []string{alg}})
			tok, err := Issue(IssueParams{Subject: "ops", TTL: time.Minute, Now: fixedNow}, alg, loaded)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyErr(v, tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
	if _, err := GenerateKey("HS256"); err == nil || !strings.Contains(err.Error(), "GenerateSecret") {
		t.Errorf("GenerateKey(HS256): %v, want a pointer to GenerateSecret", err)
	}
	if k, err := GenerateKey("RS256"); err != nil || k.(*rsa.PrivateKey).N.BitLen() != 2048 {
		t.Errorf("GenerateKey(RS256): %v", err)
	}
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	for alg, n := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
		s, err := GenerateSecret(alg)
		if err != nil || len(s) != n {
			t.Errorf("GenerateSecret(%s) = %d bytes, %v; want %d", alg, len(s), err, n)
		}
	}
	if _, err := GenerateSecret("ES256"); err == nil {
		t.Error("GenerateSecret(ES256) succeeded")
	}
}

func TestLoadPrivateKeyPEMRejects(t *testing.T) {
	t.Parallel()
	pubPEM, _ := EncodePublicKeyPEM(&ecKey().PublicKey)
	weak, _ := EncodePrivateKeyPEM(rsaKey1024())
	encrypted := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	tests := map[string]struct {
		data []byte
		want string
	}{
		"public key":  {pubPEM, "not a private key"},
		"weak RSA":    {weak, "at least 2048"},
		"encrypted":   {encrypted, "encrypted PEM"},
		"not PEM":     {[]byte("key"), "no PEM block"},
		"corrupt DER": {[]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "load private key"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadPrivateKeyPEM(writeFile(t, "k.pem", tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := LoadPrivateKeyPEM("/nonexistent"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestPublicJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg  string
		pub  crypto.PublicKey
		sign signer
	}{
		{"RS256", &rsaKey().PublicKey, rs256(rsaKey())},
		{"PS256", &rsaKey().PublicKey, ps256(rsaKey(), 32)},
		{"ES256", &ecKey().PublicKey, es(ecKey())},
		{"ES384", &ecKey384().PublicKey, es(ecKey384())},
		{"ES512", &ecKey521().PublicKey, es(ecKey521())},
		{"EdDSA", edKey().Public(), eddsa(edKey())},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			doc, err := PublicJWKS(tt.pub, tt.alg, "")
			if err != nil {
				t.Fatal(err)
			}
			kid, _ := Thumbprint(tt.pub)
			// jwkset reads what we publish, and our own strict parser accepts it.
			var parsed jwkset.JWKSMarshal
			if err := json.Unmarshal(doc, &parsed); err != nil || len(parsed.Keys) != 1 || parsed.Keys[0].KID != kid || parsed.Keys[0].USE != jwkset.UseSig {
				t.Fatalf("document %s: %v", doc, err)
			}
			srv := newCountingServer(t, doc)
			v := setup(t, Config{JWKSURL: srv.URL})
			if err := verifyErr(v, mint(`{"alg":"`+tt.alg+`","kid":"`+kid+`"}`, claimsJSON(nil), tt.sign)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
	if _, err := PublicJWKS(&rsaKey1024().PublicKey, "RS256", "k"); err == nil {
		t.Error("PublicJWKS published a 1024-bit key")
	}
	if _, err := PublicJWKS(&ecKey().PublicKey, "RS256", "k"); err == nil {
		t.Error("PublicJWKS paired an EC key with RS256")
	}
}

// TestThumbprintRFC7638 checks the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	n, err := enc.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
	for _, pub := range []crypto.PublicKey{&ecKey().PublicKey, edKey().Public().(ed25519.PublicKey)} {
		if tp, err := Thumbprint(pub); err != nil || len(tp) != 43 {
			t.Errorf("Thumbprint(%T) = %q, %v", pub, tp, err)
		}
	}
	if _, err := Thumbprint(ecKey()); err == nil {
		t.Error("Thumbprint of a private key succeeded")
	}
}
