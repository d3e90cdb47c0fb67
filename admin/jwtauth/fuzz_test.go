package jwtauth

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary text to Verify. It must never panic, and whatever it accepts must
// carry a subject; the seed corpus in testdata/fuzz/FuzzVerify runs with every plain go test.
func FuzzVerify(f *testing.F) {
	f.Add(good())
	f.Add(mint(`{"alg":"HS256","kid":"k"}`, claimsJSON(map[string]any{"aud": []string{"a", "b"}, "roles": []string{"x"}}), hs256(testSecret)))
	f.Add(mint(`{"alg":"none"}`, claimsJSON(nil), noSig))
	f.Add(mint(`{"alg":"HS256","crit":["x"]}`, claimsJSON(nil), hs256(testSecret)))
	f.Add(mint(`{"alg":"HS256","alg":"HS256"}`, `{"sub":"a","sub":"b"}`, hs256(testSecret)))
	f.Add("..")
	f.Add("a.b.c.d.e")
	f.Add(strings.Repeat(".", 100))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30=.AA")
	v := setup(f, Config{Leeway: time.Minute})
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := v.Verify(context.Background(), token)
		if err != nil {
			if !isInvalid(err) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if tok.Subject == "" || tok.user == nil {
			t.Fatalf("accepted token without a subject: %+v", tok)
		}
	})
}

// FuzzSignedToken lets the fuzzer choose the header and claims text of a correctly signed token,
// reaching the header and claims checks that FuzzVerify, unable to forge a signature, cannot.
func FuzzSignedToken(f *testing.F) {
	f.Add(`{"alg":"HS256"}`, claimsJSON(nil))
	f.Add(`{"alg":"HS256","kid":"k","crit":["b64"]}`, claimsJSON(map[string]any{"aud": []any{"x", nil}}))
	f.Add(`{"alg":"HS256"}`, `{"sub":"a","SUB":"b","exp":1e10,"nbf":-1,"iat":"x"}`)
	f.Add(`{"alg":"HS256","alg":"none"}`, `{"sub":"a","sub":"b"}`)
	f.Add(`{"alg":"HS256"}`, `{"sub":"alice","exp":3376800000,"is_admin":["true"],"roles":{"admin":true}}`)
	v := setup(f, Config{Leeway: time.Minute})
	sign := hs256(testSecret)
	f.Fuzz(func(t *testing.T, header, claims string) {
		tok, err := v.Verify(context.Background(), mint(header, claims, sign))
		if err != nil {
			if !isInvalid(err) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		h, herr := headerOf(enc.EncodeToString([]byte(header)))
		if herr != nil || h.Alg != "HS256" {
			t.Fatalf("accepted a token whose header is %q", header)
		}
		if tok.Subject == "" || tok.Subject != tok.Claims["sub"] {
			t.Fatalf("accepted claims %q with subject %q", claims, tok.Subject)
		}
		if exp, _ := tok.Claims["exp"].(float64); !(exp > float64(testNow.Add(-time.Minute).Unix())) {
			t.Fatalf("accepted claims %q without a future exp", claims)
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to the key-set parser, which reads what a network
// peer sends. Every key it returns must be bound to an allowed asymmetric algorithm.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwks(rsaJWK(&rsaKey().PublicKey, "RS256", "r", "")))
	f.Add(jwks(ecJWK(&ecKey().PublicKey, "ES256", "e", ""), `{"kty":"oct","k":"AAAA","alg":"HS256"}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":null}`))
	allowed := map[string]*algorithm{}
	for _, n := range asymmetricAlgorithms {
		allowed[n] = algorithms[n]
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, _, err := parseJWKS(data, allowed)
		if err != nil {
			return
		}
		for _, k := range set.all {
			if k.alg.kind == kindHMAC || allowed[k.alg.name] != k.alg {
				t.Fatalf("key bound to %s", k.alg.name)
			}
		}
	})
}

// FuzzExtractToken feeds arbitrary header and cookie values to ExtractToken.
func FuzzExtractToken(f *testing.F) {
	f.Add("Bearer a.b.c", "jwt=a.b.c")
	f.Add("bearer\t\ta.b.c ", `jwt="Bearer a.b.c"`)
	f.Add("Basic x", "jwt=; jwt=x")
	v := setup(f, Config{CookieName: "jwt"})
	f.Fuzz(func(t *testing.T, header, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		r.Header.Set("Cookie", cookie)
		tok, ok := v.ExtractToken(r)
		if ok && (tok == "" || strings.Trim(tok, " \t") != tok) {
			t.Fatalf("ExtractToken(%q, %q) = %q", header, cookie, tok)
		}
	})
}
