package jwtauth

// One test per attack in the catalogue of /work/shared/reference/auth.md §3. Tokens are
// assembled by hand (mint) and signed with crypto/* directly, because golang-jwt refuses to build
// most of them.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// 1. alg "none", and algorithms nobody configured.
func TestAttackAlgNone(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{})
	claims := claimsJSON(nil)
	const notAccepted = "alg is not one of the accepted algorithms"
	const notString = `"alg" header is not a string`
	tests := []struct {
		name string
		tok  string
		want string
	}{
		{"none, empty signature", strings.TrimSuffix(mint(`{"alg":"none"}`, claims, noSig), ".") + ".", "not a compact JWS"},
		{"none, no signature segment", strings.TrimSuffix(mint(`{"alg":"none"}`, claims, noSig), "."), "not a compact JWS"},
		{"None, HMAC signature", mint(`{"alg":"None"}`, claims, hs256(testSecret)), notAccepted},
		{"NONE, HMAC signature", mint(`{"alg":"NONE"}`, claims, hs256(testSecret)), notAccepted},
		{"none, garbage signature", mint(`{"alg":"none"}`, claims, func([]byte) []byte { return []byte("sig") }), notAccepted},
		{"HS1", mint(`{"alg":"HS1"}`, claims, hs256(testSecret)), notAccepted},
		{"empty alg", mint(`{"alg":""}`, claims, hs256(testSecret)), notAccepted},
		{"absent alg", mint(`{"typ":"JWT"}`, claims, hs256(testSecret)), notAccepted},
		{"null alg", mint(`{"alg":null}`, claims, hs256(testSecret)), notString},
		{"numeric alg", mint(`{"alg":256}`, claims, hs256(testSecret)), notString},
		{"array alg", mint(`{"alg":["HS256"]}`, claims, hs256(testSecret)), notString},
		{"lower-case hs256", mint(`{"alg":"hs256"}`, claims, hs256(testSecret)), notAccepted},
		{"HS512 under an HS256 key", mint(`{"alg":"HS512"}`, claims, hsSigner(sha512New, testSecret)), notAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, tt.tok), tt.want)
		})
	}
}

// 2. Algorithm confusion: HS256 tokens MACed with the public key's bytes.
func TestAttackAlgorithmConfusion(t *testing.T) {
	t.Parallel()
	rsaPub := &rsaKey().PublicKey
	rsaPEM, _ := EncodePublicKeyPEM(rsaPub)
	rsaDER, _ := x509.MarshalPKIXPublicKey(rsaPub)
	rsaJWKS, _ := PublicJWKS(rsaPub, "RS256", "k1")
	ecPub := &ecKey().PublicKey
	ecPEM, _ := EncodePublicKeyPEM(ecPub)
	point, _ := ecPub.Bytes()

	rsaFile := Config{PublicKeyFile: writeFile(t, "rsa.pem", rsaPEM)}
	ecFile := Config{PublicKeyFile: writeFile(t, "ec.pem", ecPEM)}
	claims := claimsJSON(nil)
	tests := []struct {
		name string
		cfg  Config
		key  []byte
		alg  string
	}{
		{"HS256 keyed with the RSA PEM", rsaFile, rsaPEM, "HS256"},
		{"HS256 keyed with the RSA DER", rsaFile, rsaDER, "HS256"},
		{"HS256 keyed with the RSA JWKS", rsaFile, rsaJWKS, "HS256"},
		{"HS256 keyed with the RSA modulus", rsaFile, rsaPub.N.Bytes(), "HS256"},
		{"HS512 keyed with the RSA PEM", rsaFile, rsaPEM, "HS512"},
		{"HS256 keyed with the EC PEM", ecFile, ecPEM, "HS256"},
		{"HS256 keyed with the EC point x||y", ecFile, point[1:], "HS256"},
		{"HS256 keyed with the EC point x", ecFile, point[1:33], "HS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tt.cfg)
			h := sha256.New
			if tt.alg == "HS512" {
				h = sha512New
			}
			mustRefuse(t, verifyErr(v, mint(`{"alg":"`+tt.alg+`"}`, claims, hsSigner(h, tt.key))), "alg is not one of the accepted algorithms")
		})
	}

	t.Run("PS256 token under an RS256-bound key", func(t *testing.T) {
		t.Parallel()
		v := setup(t, rsaFile)
		mustRefuse(t, verifyErr(v, mint(`{"alg":"PS256"}`, claims, ps256(rsaKey(), 32))), "alg is not one of the accepted algorithms")
	})
	t.Run("RS256 token under a PS256-bound key", func(t *testing.T) {
		t.Parallel()
		v := setup(t, Config{PublicKey: rsaPub, Algorithms: []string{"PS256"}})
		mustRefuse(t, verifyErr(v, mint(`{"alg":"RS256"}`, claims, rs256(rsaKey()))), "alg is not one of the accepted algorithms")
	})
}

// 3. kid injection: odd kid values are refused or are only a map lookup, and unknown kids cannot
// make the verifier hammer the key server.
func TestAttackKIDInjection(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, jwks(rsaJWK(&rsaKey().PublicKey, "RS256", "good", "")))
	v := setup(t, Config{JWKSURL: srv.URL})
	claims := claimsJSON(nil)
	attacker := rsaKey2()
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"path traversal", `{"alg":"RS256","kid":"../../../../dev/null"}`, "kid is not in the key set"},
		{"SQL injection", `{"alg":"RS256","kid":"' OR '1'='1"}`, "kid is not in the key set"},
		{"very long", `{"alg":"RS256","kid":"` + strings.Repeat("k", 4096) + `"}`, `"kid" header is too long`},
		{"number", `{"alg":"RS256","kid":7}`, `"kid" header is not a string`},
		{"object", `{"alg":"RS256","kid":{"a":1}}`, `"kid" header is not a string`},
		{"array", `{"alg":"RS256","kid":["good"]}`, `"kid" header is not a string`},
		{"kid of the good key, attacker signature", `{"alg":"RS256","kid":"good"}`, "signature does not verify"},
	}
	// Sequential, so that the fetch count below covers every subtest.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustRefuse(t, verifyErr(v, mint(tt.header, claims, rs256(attacker))), tt.want)
		})
	}
	// One fetch at start, and at most one more for all the unknown kids together.
	if n := srv.hits.Load(); n > 2 {
		t.Errorf("key server fetched %d times, want at most 2", n)
	}
}

// 4. jku and x5u are never fetched, whoever signed the token.
func TestAttackJKUAndX5U(t *testing.T) {
	t.Parallel()
	attacker := rsaKey2()
	evil := newCountingServer(t, jwks(rsaJWK(&attacker.PublicKey, "RS256", "evil", "")))
	v := setup(t, Config{PublicKey: &rsaKey().PublicKey})
	claims := claimsJSON(nil)
	for _, member := range []string{"jku", "x5u"} {
		hdr := fmt.Sprintf(`{"alg":"RS256","kid":"evil",%q:%q}`, member, evil.URL+"/keys")
		mustRefuse(t, verifyErr(v, mint(hdr, claims, rs256(attacker))), "signature does not verify")
		// Even a genuinely signed token with the header set does not make the verifier look.
		if _, err := v.Verify(context.Background(), mint(hdr, claims, rs256(rsaKey()))); err != nil {
			t.Errorf("genuine token with %s: %v", member, err)
		}
	}
	if n := evil.hits.Load(); n != 0 {
		t.Errorf("attacker server got %d requests, want 0", n)
	}
}

// 5. A key embedded in the header (jwk, x5c) is never trusted.
func TestAttackEmbeddedKey(t *testing.T) {
	t.Parallel()
	attacker := rsaKey2()
	v := setup(t, Config{PublicKey: &rsaKey().PublicKey})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &attacker.PublicKey, attacker)
	if err != nil {
		t.Fatal(err)
	}
	x5c := fmt.Sprintf(`["%s"]`, base64.StdEncoding.EncodeToString(der))
	claims := claimsJSON(nil)
	for name, hdr := range map[string]string{
		"jwk": `{"alg":"RS256","jwk":` + rsaJWK(&attacker.PublicKey, "RS256", "a", "") + `}`,
		"x5c": `{"alg":"RS256","x5c":` + x5c + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, mint(hdr, claims, rs256(attacker))), "signature does not verify")
		})
	}
}

// 6. crit: this verifier understands no extension, so any crit header is refused.
func TestAttackCrit(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{})
	claims := claimsJSON(nil)
	for _, hdr := range []string{
		`{"alg":"HS256","crit":["x-unknown"],"x-unknown":1}`,
		`{"alg":"HS256","crit":[]}`,
		`{"alg":"HS256","crit":["exp"]}`,
		`{"alg":"HS256","crit":["b64"],"b64":false}`,
		`{"alg":"HS256","crit":null}`,
		`{"alg":"HS256","crit":"x"}`,
	} {
		t.Run(hdr, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, mint(hdr, claims, hs256(testSecret))), `"crit"`)
		})
	}
}

// 7. Expiry, not-before and issued-at, with leeway.
func TestAttackTimeClaims(t *testing.T) {
	t.Parallel()
	const leeway = 30 * time.Second
	v := setup(t, Config{Leeway: leeway})
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	tests := []struct {
		name   string
		claims map[string]any
		want   string // "" when the token is valid
	}{
		{"exp just inside the leeway", map[string]any{"exp": at(-leeway + time.Second)}, ""},
		{"exp just outside the leeway", map[string]any{"exp": at(-leeway - time.Second)}, "token is expired"},
		{"exp exactly now minus leeway", map[string]any{"exp": at(-leeway)}, "token is expired"},
		{"nbf just inside the leeway", map[string]any{"nbf": at(leeway - time.Second)}, ""},
		{"nbf just outside the leeway", map[string]any{"nbf": at(leeway + time.Second)}, "token is not valid yet"},
		{"iat in the future beyond the leeway", map[string]any{"iat": at(leeway + time.Second)}, "token used before issued"},
		{"iat in the future within the leeway", map[string]any{"iat": at(leeway - time.Second)}, ""},
		{"exp missing", map[string]any{"exp": nil}, "exp claim is required"},
		{"exp zero", map[string]any{"exp": 0}, "token is expired"},
		{"exp as a string", map[string]any{"exp": fmt.Sprint(at(time.Hour))}, `"exp" claim is not a number`},
		{"exp as a bool", map[string]any{"exp": true}, `"exp" claim is not a number`},
		{"exp negative", map[string]any{"exp": -1}, `"exp" claim is out of range`},
		{"exp 2^63", map[string]any{"exp": json.Number("9223372036854775808")}, `"exp" claim is out of range`},
		{"exp 1e400 overflows", map[string]any{"exp": json.Number("1e400")}, "out of range"},
		{"exp fractional", map[string]any{"exp": json.Number(fmt.Sprint(at(time.Hour)) + ".5")}, ""},
		{"nbf as a string", map[string]any{"nbf": "0"}, `"nbf" claim is not a number`},
		{"iat as an object", map[string]any{"iat": map[string]any{}}, `"iat" claim is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := verifyErr(v, mint(`{"alg":"HS256"}`, claimsJSON(tt.claims), hs256(testSecret)))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			mustRefuse(t, err, tt.want)
		})
	}
}

// 8. aud as a string or an array, any-of; every odd shape refused.
func TestAttackAudience(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{Audience: "jobq-admin"})
	tests := []struct {
		name string
		aud  any
		want string // "" when the token is valid
	}{
		{"string", "jobq-admin", ""},
		{"array containing it", []any{"x", "jobq-admin"}, ""},
		{"missing", nil, "aud claim is required"},
		{"empty string", "", `"aud" claim is empty`},
		{"empty array", []any{}, `"aud" claim is an empty array`},
		{"other audience", []any{"x"}, "invalid audience"},
		{"suffix look-alike", []any{"jobq-admin-evil"}, "invalid audience"},
		{"case variant", "JOBQ-ADMIN", "invalid audience"},
		{"array with null", []any{nil}, "not a non-empty string"},
		{"array with null and the audience", []any{nil, "jobq-admin"}, "not a non-empty string"},
		{"number", 123, "neither a string nor an array"},
		{"object", map[string]any{"a": 1}, "neither a string nor an array"},
		{"nested array", []any{[]any{"jobq-admin"}}, "not a non-empty string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims := claimsJSON(map[string]any{"aud": tt.aud})
			if tt.aud == nil {
				claims = claimsJSON(nil)
			}
			err := verifyErr(v, mint(`{"alg":"HS256"}`, claims, hs256(testSecret)))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			mustRefuse(t, err, tt.want)
		})
	}
	t.Run("aud present but no audience configured", func(t *testing.T) {
		t.Parallel()
		mustRefuse(t, verifyErr(setup(t, Config{}), mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"aud": "anything"}), hs256(testSecret))), "no audience is configured")
	})
	t.Run("explicit null aud", func(t *testing.T) {
		t.Parallel()
		claims := strings.Replace(claimsJSON(nil), "{", `{"aud":null,`, 1)
		mustRefuse(t, verifyErr(v, mint(`{"alg":"HS256"}`, claims, hs256(testSecret))), `"aud" claim is null`)
	})
}

// 9. iss must match exactly, and a key serves one issuer.
func TestAttackIssuer(t *testing.T) {
	t.Parallel()
	const iss = "https://issuer.example"
	a := setup(t, Config{PublicKey: &ecKey().PublicKey, Issuer: iss})
	tests := []struct {
		name string
		iss  any
		key  *ecdsa.PrivateKey
		want string // "" when the token is valid
	}{
		{"exact", iss, ecKey(), ""},
		{"trailing slash", iss + "/", ecKey(), "invalid issuer"},
		{"different case", strings.ToUpper(iss), ecKey(), "invalid issuer"},
		{"missing", nil, ecKey(), "iss claim is required"},
		{"empty", "", ecKey(), "iss claim is required"},
		{"array", []any{iss}, ecKey(), `"iss" claim is not a string`},
		{"issuer B's key claiming issuer A", iss, ecKey2(), "signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims := claimsJSON(map[string]any{"iss": tt.iss})
			err := verifyErr(a, mint(`{"alg":"ES256"}`, claims, es(tt.key)))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			mustRefuse(t, err, tt.want)
		})
	}
	t.Run("issuer B's verifier refuses issuer A's key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{PublicKey: &ecKey2().PublicKey, Issuer: "https://b.example"})
		mustRefuse(t, verifyErr(b, mint(`{"alg":"ES256"}`, claimsJSON(map[string]any{"iss": "https://b.example"}), es(ecKey()))), "signature does not verify")
	})
}

// 10. The identity claim must be a non-empty string; admin and role claims of the wrong shape
// grant nothing (see TestVerifyClaimMapping and the backend tests for those).
func TestAttackIdentityClaims(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{})
	for name, sub := range map[string]any{"missing": nil, "empty": "", "number": 42, "array": []any{"alice"}, "object": map[string]any{"id": "alice"}, "bool": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			claims := claimsJSON(map[string]any{"sub": sub})
			mustRefuse(t, verifyErr(v, mint(`{"alg":"HS256"}`, claims, hs256(testSecret))), `"sub" claim`)
		})
	}
	t.Run("null sub", func(t *testing.T) {
		t.Parallel()
		claims := strings.Replace(claimsJSON(map[string]any{"sub": nil}), "{", `{"sub":null,`, 1)
		mustRefuse(t, verifyErr(v, mint(`{"alg":"HS256"}`, claims, hs256(testSecret))), `"sub" claim is not a string`)
	})
	t.Run("claims not an object", func(t *testing.T) {
		t.Parallel()
		for _, c := range []string{`null`, `[]`, `"alice"`, `1`} {
			mustRefuse(t, verifyErr(v, mint(`{"alg":"HS256"}`, c, hs256(testSecret))), "claim set is not")
		}
	})
}

// 11. Oversized tokens are refused before any decoding, with bounded allocation.
//
// Not parallel: testing.AllocsPerRun refuses to run in parallel tests.
func TestAttackHugeTokens(t *testing.T) {
	b := setupBackend(t, Config{})
	dots := "Bearer " + strings.Repeat(".", 1<<20)
	big := mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"pad": strings.Repeat("x", 100<<10)}), hs256(testSecret))
	for name, header := range map[string]string{"1 MiB of dots": dots, "100 KiB well-formed": "Bearer " + big} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", header)
			_, err := b.Authenticate(r)
			mustRefuse(t, err)
			if !strings.Contains(err.Error(), "size limit") {
				t.Errorf("error %q, want the size limit", err)
			}
			allocs := testing.AllocsPerRun(20, func() { b.Authenticate(r) })
			if allocs > 0 {
				t.Errorf("refusing an oversized token allocates %v times, want 0", allocs)
			}
		})
	}
	t.Run("the limit is configurable", func(t *testing.T) {
		small := setup(t, Config{MaxTokenSize: 64})
		mustRefuse(t, verifyErr(small, good()))
	})
}

// 12. Duplicate members, case variants and escaped names.
func TestAttackDuplicateMembers(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{})
	exp := testNow.Add(time.Hour).Unix()
	tests := []struct {
		name   string
		header string
		claims string
	}{
		{"duplicate alg", `{"alg":"RS256","alg":"HS256"}`, claimsJSON(nil)},
		{"duplicate unknown header member", `{"alg":"HS256","x":1,"x":2}`, claimsJSON(nil)},
		{"duplicate sub", `{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","sub":"admin","exp":%d}`, exp)},
		{"duplicate exp", `{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":1,"exp":%d}`, exp)},
		{"duplicate through an escape", `{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","s\u0075b":"admin","exp":%d}`, exp)},
		{"duplicate in a nested object", `{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d,"x":{"a":1,"a":2}}`, exp)},
		{"invalid UTF-8", `{"alg":"HS256"}`, fmt.Sprintf("{\"sub\":\"al\xffice\",\"exp\":%d}", exp)},
		{"trailing data", `{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"alice","exp":%d} {}`, exp)},
		{"trailing data in header", `{"alg":"HS256"}x`, claimsJSON(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, mint(tt.header, tt.claims, hs256(testSecret))), "not valid JSON without duplicate members")
		})
	}
	t.Run("case variants do not override", func(t *testing.T) {
		t.Parallel()
		claims := fmt.Sprintf(`{"sub":"alice","SUB":"admin","Sub":"root","exp":%d,"EXP":1,"is_admin":false,"IS_ADMIN":true}`, exp)
		tok, err := v.Verify(context.Background(), mint(`{"alg":"HS256","ALG":"none"}`, claims, hs256(testSecret)))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if tok.Subject != "alice" || tok.IsAdmin {
			t.Errorf("subject %q admin %v, want alice and false", tok.Subject, tok.IsAdmin)
		}
	})
	t.Run("case-variant sub alone is no sub", func(t *testing.T) {
		t.Parallel()
		claims := fmt.Sprintf(`{"SUB":"admin","exp":%d}`, exp)
		mustRefuse(t, verifyErr(v, mint(`{"alg":"HS256"}`, claims, hs256(testSecret))), `"sub" claim is missing`)
	})
}

// 13. Only canonical, unpadded base64url.
func TestAttackBase64(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{})
	tok := good()
	parts := strings.Split(tok, ".")
	// A segment whose length is 2 or 3 mod 4 ends in a character with spare low bits; flipping
	// the lowest one changes the text but not the decoded bytes.
	flipSpare := func(seg string) string {
		last := seg[len(seg)-1]
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, last)
		return seg[:len(seg)-1] + string(alphabet[i^1])
	}
	join := func(p ...string) string { return strings.Join(p, ".") }
	// A signature over the exact bytes of a header or payload, so only the encoding is wrong.
	resign := func(h, p string) string {
		input := h + "." + p
		return input + "." + enc.EncodeToString(hs256(testSecret)([]byte(input)))
	}
	hdr := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	tests := []struct {
		name string
		tok  string
	}{
		{"padding on the signature", tok + "="},
		{"padding on the header", resign(hdr+"=", parts[1])},
		{"standard alphabet +", join(strings.ReplaceAll(parts[0], "-", "+"), parts[1], parts[2]) + "+"},
		{"standard alphabet /", join(parts[0], parts[1], parts[2]+"/")},
		{"space", join(parts[0], parts[1]+" ", parts[2])},
		{"question mark", join(parts[0], parts[1], parts[2]+"?")},
		{"hash", join(parts[0], parts[1], parts[2]+"#")},
		{"CR LF inside the payload", resign(parts[0], parts[1][:4]+"\r\n"+parts[1][4:])},
		{"non-canonical trailing bits in the signature", join(parts[0], parts[1], flipSpare(parts[2]))},
		{"length 1 mod 4", join(parts[0], parts[1], parts[2]+"AA")},
	}
	if len(parts[1])%4 != 0 {
		tests = append(tests, struct {
			name string
			tok  string
		}{"non-canonical trailing bits in the payload", resign(parts[0], flipSpare(parts[1]))})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, tt.tok), "base64url")
		})
	}
}

// 14. ECDSA: zero, n and out-of-range r and s, DER encoding and wrong lengths.
func TestAttackECDSASignatures(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{PublicKey: &ecKey().PublicKey})
	n := elliptic.P256().Params().N
	zero, one := big.NewInt(0), big.NewInt(1)
	nMinus1 := new(big.Int).Sub(n, one)
	input := func(claims string) string {
		return enc.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + enc.EncodeToString([]byte(claims))
	}
	claims := claimsJSON(nil)
	fixed := func(r, s *big.Int) signer {
		return func([]byte) []byte { return ecSig(256, r, s) }
	}
	tests := []struct {
		name string
		sign signer
	}{
		{"r=s=0 (psychic signature)", fixed(zero, zero)},
		{"r=0", fixed(zero, one)},
		{"s=0", fixed(one, zero)},
		{"r=s=1", fixed(one, one)},
		{"r=s=n", fixed(n, n)},
		{"r=n-1 s=n-1", fixed(nMinus1, nMinus1)},
		{"r=n", fixed(n, one)},
		{"DER encoded", func(in []byte) []byte {
			sum := sha256.Sum256(in)
			der, err := ecdsa.SignASN1(rand.Reader, ecKey(), sum[:])
			if err != nil {
				t.Fatal(err)
			}
			return der
		}},
		{"63 bytes", func(in []byte) []byte { return es(ecKey())(in)[:63] }},
		{"65 bytes", func(in []byte) []byte { return append(es(ecKey())(in), 0) }},
		{"signature of another key", es(ecKey2())},
		{"empty", noSig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := input(claims)
			tok := in + "." + enc.EncodeToString(tt.sign([]byte(in)))
			if tt.name == "empty" {
				mustRefuse(t, verifyErr(v, tok), "not a compact JWS")
				return
			}
			mustRefuse(t, verifyErr(v, tok), "signature does not verify")
		})
	}
	// Sanity: the same assembly with a real signature verifies.
	if err := verifyErr(v, mint(`{"alg":"ES256"}`, claims, es(ecKey()))); err != nil {
		t.Fatalf("genuine ES256 token refused: %v", err)
	}
}

// 15. Weak HMAC secrets are refused at startup; typed ones draw a warning.
func TestAttackWeakHMACKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg    string
		secret []byte
	}{
		{"HS256", randomBytesN(31)},
		{"HS384", randomBytesN(47)},
		{"HS512", randomBytesN(63)},
		{"HS256", []byte{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d bytes", tt.alg, len(tt.secret)), func(t *testing.T) {
			t.Parallel()
			if _, err := NewVerifier(context.Background(), Config{Secret: tt.secret, Algorithms: []string{tt.alg}}); err == nil {
				t.Fatal("NewVerifier accepted a short secret")
			}
		})
	}
	t.Run("printable secret warns", func(t *testing.T) {
		t.Parallel()
		var logs bytes.Buffer
		setup(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if !strings.Contains(logs.String(), "printable") {
			t.Errorf("no warning about a printable secret; logs: %q", logs.String())
		}
		if strings.Contains(logs.String(), string(testSecret)) {
			t.Error("the secret was logged")
		}
	})
	t.Run("random secret does not warn", func(t *testing.T) {
		t.Parallel()
		for range 200 {
			var logs bytes.Buffer
			s, _ := GenerateSecret("HS256")
			setup(t, Config{Secret: s, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if logs.Len() != 0 {
				t.Fatalf("unexpected log for a random secret: %q", logs.String())
			}
		}
	})
	// Issue 11 item 10: only short and printable secrets were flagged, so 32 copies of one
	// binary byte passed silently.
	lowEntropy := []struct {
		name   string
		secret []byte
	}{
		{"one repeated binary byte", bytes.Repeat([]byte{0x01}, 32)},
		{"two alternating bytes", bytes.Repeat([]byte{0xfe, 0xff}, 24)},
		{"repeated random block", bytes.Repeat(randomBytesN(12), 4)},
		{"seven distinct bytes", append(bytes.Repeat([]byte{0x80, 0x81, 0x82, 0x83, 0x84, 0x85}, 6), 0x86)},
		{"mostly one byte", append(bytes.Repeat([]byte{0x90}, 50), 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98)},
		{"repeated printable character", bytes.Repeat([]byte("a"), 64)},
	}
	for _, tt := range lowEntropy {
		t.Run("low-entropy secret warns: "+tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			setup(t, Config{Secret: tt.secret, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if !strings.Contains(logs.String(), "low-entropy") {
				t.Errorf("no low-entropy warning; logs: %q", logs.String())
			}
		})
	}
}

func randomBytesN(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// 16. Tokens in the URL are ignored, and tokens never reach the log.
func TestAttackTokenInURL(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	b := setupBackend(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	tok := good()
	for _, q := range []string{"access_token", "token", "jwt", "bearer"} {
		r := httptest.NewRequest(http.MethodGet, "/?"+q+"="+tok, nil)
		if _, err := b.Authenticate(r); err == nil {
			t.Errorf("token in ?%s= was accepted", q)
		}
	}
	// A refused token is logged with its reason but without its text or its signature.
	bad := mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), hs256(testSecret))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+bad)
	if _, err := b.Authenticate(r); err == nil {
		t.Fatal("expired token accepted")
	}
	out := logs.String()
	if !strings.Contains(out, "token refused") {
		t.Errorf("refusal not logged: %q", out)
	}
	for _, part := range append(strings.Split(bad, "."), string(testSecret)) {
		if strings.Contains(out, part) {
			t.Errorf("log contains part of the token or the secret: %q", out)
		}
	}
}

// 17. RSA-PSS salt must equal the hash length.
func TestAttackPSSSalt(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{PublicKey: &rsaKey().PublicKey, Algorithms: []string{"PS256"}})
	claims := claimsJSON(nil)
	for _, salt := range []int{0, 20, 31, 33, 64, rsa.PSSSaltLengthAuto} {
		t.Run(fmt.Sprintf("salt %d", salt), func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, mint(`{"alg":"PS256"}`, claims, ps256(rsaKey(), salt))), "signature does not verify")
		})
	}
	if err := verifyErr(v, mint(`{"alg":"PS256"}`, claims, ps256(rsaKey(), 32))); err != nil {
		t.Fatalf("salt 32 refused: %v", err)
	}
}

// 18. Weak or odd keys in a JWKS are refused at load and cannot arrive with a refresh.
func TestAttackJWKSWeakKeys(t *testing.T) {
	t.Parallel()
	good := rsaJWK(&rsaKey().PublicKey, "RS256", "good", "")
	octJWK := `{"kty":"oct","alg":"HS256","kid":"oct","k":"` + enc.EncodeToString(testSecret) + `"}`
	e1 := strings.Replace(rsaJWK(&rsaKey2().PublicKey, "RS256", "e1", ""), `"e":"AQAB"`, `"e":"AQ"`, 1)
	refusedKeys := map[string]string{
		"oct":          octJWK,
		"rsa1024":      rsaJWK(&rsaKey1024().PublicKey, "RS256", "rsa1024", ""),
		"e1":           e1,
		"enc":          rsaJWK(&rsaKey2().PublicKey, "RS256", "enc", `,"use":"enc"`),
		"no-alg":       strings.Replace(rsaJWK(&rsaKey2().PublicKey, "RS256", "no-alg", ""), `"alg":"RS256",`, "", 1),
		"curve-alg":    ecJWK(&ecKey().PublicKey, "ES384", "curve-alg", ""),
		"rsa-as-es":    rsaJWK(&rsaKey2().PublicKey, "ES256", "rsa-as-es", ""),
		"private":      rsaJWK(&rsaKey2().PublicKey, "RS256", "private", `,"d":"`+enc.EncodeToString(rsaKey2().D.Bytes())+`"`),
		"key-ops":      ecJWK(&ecKey2().PublicKey, "ES256", "key-ops", `,"key_ops":["encrypt"]`),
		"off-curve":    strings.Replace(ecJWK(&ecKey2().PublicKey, "ES256", "off-curve", ""), `"y":"`, `"y":"A`, 1),
		"x25519":       `{"kty":"OKP","crv":"X25519","alg":"EdDSA","kid":"x25519","x":"` + enc.EncodeToString(make([]byte, 32)) + `"}`,
		"dup-1":        ecJWK(&ecKey2().PublicKey, "ES256", "dup", ""),
		"dup-2":        edJWK(edKey().Public().(ed25519.PublicKey), "dup", ""),
		"padded":       strings.Replace(rsaJWK(&rsaKey2().PublicKey, "RS256", "padded", ""), `"e":"AQAB"`, `"e":"AQAB=="`, 1),
		"alg-none":     strings.Replace(rsaJWK(&rsaKey2().PublicKey, "RS256", "alg-none", ""), `"RS256"`, `"none"`, 1),
		"number-n":     `{"kty":"RSA","alg":"RS256","kid":"number-n","n":12345,"e":"AQAB"}`,
		"hs-with-oct2": `{"kty":"oct","alg":"HS512","kid":"hs-with-oct2","k":"` + enc.EncodeToString(secret512) + `"}`,
	}
	var all []string
	all = append(all, good)
	for _, k := range refusedKeys {
		all = append(all, k)
	}
	srv := newCountingServer(t, jwks(all...))
	v := setup(t, Config{JWKSURL: srv.URL})
	set := v.keys.(*jwksSource).set.Load()
	if len(set.all) != 1 || set.byKID["good"] == nil {
		kids := []string{}
		for _, k := range set.all {
			kids = append(kids, k.kid)
		}
		t.Fatalf("usable keys %v, want only [good]", kids)
	}
	if err := verifyErr(v, mint(`{"alg":"RS256","kid":"good"}`, claimsJSON(nil), rs256(rsaKey()))); err != nil {
		t.Fatalf("good key refused: %v", err)
	}
	// Tokens naming a refused key are refused, including HMAC tokens keyed with the oct secret.
	mustRefuse(t, verifyErr(v, mint(`{"alg":"HS256","kid":"oct"}`, claimsJSON(nil), hs256(testSecret))), "alg is not one of the accepted algorithms")
	mustRefuse(t, verifyErr(v, mint(`{"alg":"RS256","kid":"rsa1024"}`, claimsJSON(nil), rs256(rsaKey1024()))), "kid is not in the key set")
	mustRefuse(t, verifyErr(v, mint(`{"alg":"ES256","kid":"dup"}`, claimsJSON(nil), es(ecKey2()))), "kid is not in the key set")

	// A refresh that adds only refused keys under new kids adds nothing.
	srv.set(jwks(good, rsaJWK(&rsaKey1024().PublicKey, "RS256", "weak-later", "")))
	mustRefuse(t, verifyErr(v, mint(`{"alg":"RS256","kid":"weak-later"}`, claimsJSON(nil), rs256(rsaKey1024()))), "kid is not in the key set")
	if srv.hits.Load() != 2 {
		t.Errorf("fetches = %d, want 2 (start and one unknown-kid refresh)", srv.hits.Load())
	}
}

// 19. Only the compact serialization of a JWS.
func TestAttackSerialization(t *testing.T) {
	t.Parallel()
	v := setup(t, Config{})
	tok := good()
	p := strings.Split(tok, ".")
	jsonJWS := fmt.Sprintf(`{"payload":%q,"protected":%q,"signature":%q}`, p[1], p[0], p[2])
	jwe := enc.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM"}`)) + "..AAAAAAAAAAAAAAAA." + p[1] + "." + enc.EncodeToString(make([]byte, 16))
	for name, tok := range map[string]string{
		"JSON serialization":   jsonJWS,
		"flattened JSON":       `{"header":{"alg":"HS256"},` + jsonJWS[1:],
		"JWE (five segments)":  jwe,
		"four segments":        tok + "." + p[2],
		"two segments":         p[0] + "." + p[1],
		"empty header segment": "." + p[1] + "." + p[2],
		"empty payload":        p[0] + ".." + p[2],
		"just dots":            "..",
		"detached payload":     p[0] + ".." + p[2],
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, verifyErr(v, tok), "invalid token")
		})
	}
}
