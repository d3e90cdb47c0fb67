package jwtauth

import (
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	t.Parallel()
	rsaPEM, err := EncodePublicKeyPEM(&rsaKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := EncodePrivateKeyPEM(ecKey())
	if err != nil {
		t.Fatal(err)
	}
	twoPEM := append(append([]byte{}, rsaPEM...), rsaPEM...)
	tooLong := 6 * time.Minute
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{}, "no key configured"},
		{"two sources", Config{Secret: testSecret, PublicKey: &rsaKey().PublicKey}, "more than one key source"},
		{"empty secret", Config{Secret: []byte{}}, "no key configured"},
		{"HS256 secret of 31 bytes", Config{Secret: testSecret[:31]}, "at least 32"},
		{"HS384 secret of 47 bytes", Config{Secret: secret384[:47], Algorithms: []string{"HS384"}}, "at least 48"},
		{"HS512 secret of 63 bytes", Config{Secret: secret512[:63], Algorithms: []string{"HS512"}}, "at least 64"},
		{"HS256 secret used for HS512", Config{Secret: testSecret, Algorithms: []string{"HS512"}}, "at least 64"},
		{"secret with two algorithms", Config{Secret: secret512, Algorithms: []string{"HS256", "HS512"}}, "only one"},
		{"secret with RS256", Config{Secret: testSecret, Algorithms: []string{"RS256"}}, "shared secret cannot be used with RS256"},
		{"unknown algorithm", Config{Secret: testSecret, Algorithms: []string{"HS1"}}, `unsupported algorithm "HS1"`},
		{"none", Config{Secret: testSecret, Algorithms: []string{"none"}}, `unsupported algorithm "none"`},
		{"lower-case alg name", Config{Secret: testSecret, Algorithms: []string{"hs256"}}, `unsupported algorithm "hs256"`},
		{"leeway above 5m", Config{Secret: testSecret, Leeway: tooLong}, "leeway"},
		{"negative leeway", Config{Secret: testSecret, Leeway: -time.Second}, "leeway"},
		{"cache TTL above 1m", Config{Secret: testSecret, CacheTTL: 2 * time.Minute}, "cache TTL"},
		{"negative max token size", Config{Secret: testSecret, MaxTokenSize: -1}, "max token size"},
		{"scheme with a space", Config{Secret: testSecret, Scheme: "Bear er"}, "white space"},
		{"bad cookie name", Config{Secret: testSecret, CookieName: "a b"}, "cookie name"},
		{"RSA 1024", Config{PublicKey: &rsaKey1024().PublicKey}, "1024 bits, want at least 2048"},
		{"RSA key with ES256", Config{PublicKey: &rsaKey().PublicKey, Algorithms: []string{"ES256"}}, "RSA key cannot be used with ES256"},
		{"RSA key with HS256", Config{PublicKey: &rsaKey().PublicKey, Algorithms: []string{"HS256"}}, "RSA key cannot be used with HS256"},
		{"P-256 key with ES384", Config{PublicKey: &ecKey().PublicKey, Algorithms: []string{"ES384"}}, "ES384 needs a P-384 key"},
		{"Ed25519 key with ES256", Config{PublicKey: edKey().Public(), Algorithms: []string{"ES256"}}, "Ed25519 key cannot be used with ES256"},
		{"private key as public key", Config{PublicKey: ecKey()}, "unsupported public key type"},
		{"missing PEM file", Config{PublicKeyFile: "/nonexistent/key.pem"}, "read public key"},
		{"PEM with a private key", Config{PublicKeyFile: writeFile(t, "priv.pem", privPEM)}, "holds a private key"},
		{"PEM with two keys", Config{PublicKeyFile: writeFile(t, "two.pem", twoPEM)}, "more than one PEM block"},
		{"not PEM", Config{PublicKeyFile: writeFile(t, "junk.pem", []byte("hello"))}, "no PEM block"},
		{"JWKS over http", Config{JWKSURL: "http://idp.example/jwks.json"}, "must use https"},
		{"JWKS over http to a 127. look-alike", Config{JWKSURL: "http://127.evil.example/jwks.json"}, "must use https"},
		{"JWKS with HS256", Config{JWKSURL: "https://idp.example/jwks.json", Algorithms: []string{"HS256"}}, "never taken from a JWKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(context.Background(), tt.cfg)
			if err == nil {
				t.Fatal("NewVerifier succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestVerifyAcceptsEveryAlgorithm(t *testing.T) {
	t.Parallel()
	claims := claimsJSON(map[string]any{"roles": []string{"operator"}, "is_admin": "yes"})
	tests := []struct {
		alg  string
		cfg  Config
		sign signer
	}{
		{"HS256", Config{Secret: testSecret}, hs256(testSecret)},
		{"HS384", Config{Secret: secret384, Algorithms: []string{"HS384"}}, hsSigner(sha384, secret384)},
		{"HS512", Config{Secret: secret512, Algorithms: []string{"HS512"}}, hsSigner(sha512New, secret512)},
		{"RS256", Config{PublicKey: &rsaKey().PublicKey}, rs256(rsaKey())},
		{"PS256", Config{PublicKey: &rsaKey().PublicKey, Algorithms: []string{"PS256"}}, ps256(rsaKey(), 32)},
		{"ES256", Config{PublicKey: &ecKey().PublicKey}, es(ecKey())},
		{"ES384", Config{PublicKey: &ecKey384().PublicKey}, es(ecKey384())},
		{"ES512", Config{PublicKey: &ecKey521().PublicKey}, es(ecKey521())},
		{"EdDSA", Config{PublicKey: edKey().Public()}, eddsa(edKey())},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tt.cfg)
			tok, err := v.Verify(context.Background(), mint(`{"alg":"`+tt.alg+`"}`, claims, tt.sign))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Subject != "alice" || tok.Name != "Alice" || !tok.IsAdmin || !slices.Equal(tok.Roles, []string{"operator"}) {
				t.Errorf("token = %+v", tok)
			}
			if !tok.ExpiresAt.Equal(testNow.Add(time.Hour)) {
				t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, testNow.Add(time.Hour))
			}
			if tok.Claims["sub"] != "alice" {
				t.Errorf("Claims = %v", tok.Claims)
			}
		})
	}
}

func TestVerifyPublicKeyFile(t *testing.T) {
	t.Parallel()
	pemBytes, err := EncodePublicKeyPEM(&ecKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v := setup(t, Config{PublicKeyFile: writeFile(t, "pub.pem", pemBytes)})
	if _, err := v.Verify(context.Background(), mint(`{"alg":"ES256"}`, claimsJSON(nil), es(ecKey()))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := v.allowedAlgorithms(); !slices.Equal(got, []string{"ES256"}) {
		t.Errorf("allowed algorithms = %v, want [ES256]", got)
	}
}

func TestVerifyClaimMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       Config
		claims    map[string]any
		wantSub   string
		wantName  string
		wantAdmin bool
		wantRoles []string
	}{
		{"name falls back to sub", Config{}, map[string]any{"name": nil}, "alice", "alice", false, nil},
		{"non-string name falls back to sub", Config{}, map[string]any{"name": 42}, "alice", "alice", false, nil},
		{"is_admin true", Config{}, map[string]any{"is_admin": true}, "alice", "Alice", true, nil},
		{"is_admin string ON", Config{}, map[string]any{"is_admin": " ON "}, "alice", "Alice", true, nil},
		{"is_admin 1 as a number is not truthy", Config{}, map[string]any{"is_admin": 1}, "alice", "Alice", false, nil},
		{"is_admin list is not truthy", Config{}, map[string]any{"is_admin": []string{"true"}}, "alice", "Alice", false, nil},
		{"is_admin object is not truthy", Config{}, map[string]any{"is_admin": map[string]any{"value": true}}, "alice", "Alice", false, nil},
		{"roles string", Config{}, map[string]any{"roles": "viewer"}, "alice", "Alice", false, []string{"viewer"}},
		{"roles object is ignored", Config{}, map[string]any{"roles": map[string]any{"admin": false}}, "alice", "Alice", false, nil},
		{
			"custom claim names",
			Config{UserClaim: "email", NameClaim: "display", AdminClaim: "adm", RolesClaim: "groups"},
			map[string]any{"email": "a@example.com", "display": "A", "adm": "true", "groups": []string{"ops"}},
			"a@example.com", "A", true, []string{"ops"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tt.cfg)
			tok, err := v.Verify(context.Background(), mint(`{"alg":"HS256"}`, claimsJSON(tt.claims), hs256(testSecret)))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Subject != tt.wantSub || tok.Name != tt.wantName || tok.IsAdmin != tt.wantAdmin || !slices.Equal(tok.Roles, tt.wantRoles) {
				t.Errorf("got sub=%q name=%q admin=%v roles=%v", tok.Subject, tok.Name, tok.IsAdmin, tok.Roles)
			}
		})
	}
}

func TestVerifyWithoutExpWhenNotRequired(t *testing.T) {
	t.Parallel()
	no := false
	v := setup(t, Config{RequireExp: &no})
	tok, err := v.Verify(context.Background(), mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"exp": nil}), hs256(testSecret)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !tok.ExpiresAt.IsZero() {
		t.Errorf("ExpiresAt = %v, want zero", tok.ExpiresAt)
	}
	// The default requires exp.
	mustRefuse(t, verifyErr(setup(t, Config{}), mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"exp": nil}), hs256(testSecret))))
}

func verifyErr(v *Verifier, tok string) error {
	_, err := v.Verify(context.Background(), tok)
	return err
}

func TestExtractToken(t *testing.T) {
	t.Parallel()
	const tok = "aaa.bbb.ccc"
	tests := []struct {
		name    string
		cfg     Config
		header  map[string][]string
		url     string
		want    string
		wantOK  bool
		cookies []string
	}{
		{name: "bearer", header: map[string][]string{"Authorization": {"Bearer " + tok}}, want: tok, wantOK: true},
		{name: "scheme case-insensitive", header: map[string][]string{"Authorization": {"bEaReR " + tok}}, want: tok, wantOK: true},
		{name: "extra spaces and a tab", header: map[string][]string{"Authorization": {"Bearer \t " + tok + "  "}}, want: tok, wantOK: true},
		{name: "no space after scheme", header: map[string][]string{"Authorization": {"Bearer" + tok}}},
		{name: "scheme only", header: map[string][]string{"Authorization": {"Bearer "}}},
		{name: "other scheme", header: map[string][]string{"Authorization": {"Basic YWxpY2U6cHc="}}},
		{name: "bare token", header: map[string][]string{"Authorization": {tok}}},
		{name: "header repeated", header: map[string][]string{"Authorization": {"Bearer " + tok, "Bearer x.y.z"}}},
		{name: "token in query is ignored", url: "/?access_token=" + tok + "&token=" + tok},
		{
			name: "custom header and scheme", cfg: Config{HeaderName: "x-admin-token", Scheme: "JWT"},
			header: map[string][]string{"X-Admin-Token": {"jwt " + tok}}, want: tok, wantOK: true,
		},
		{
			name: "custom header ignores Authorization", cfg: Config{HeaderName: "X-Admin-Token"},
			header: map[string][]string{"Authorization": {"Bearer " + tok}},
		},
		{name: "cookie ignored when not configured", cookies: []string{"jwt=" + tok}},
		{name: "cookie", cfg: Config{CookieName: "jwt"}, cookies: []string{"jwt=" + tok}, want: tok, wantOK: true},
		{name: "cookie with Bearer prefix", cfg: Config{CookieName: "jwt"}, cookies: []string{`jwt="Bearer ` + tok + `"`}, want: tok, wantOK: true},
		{name: "cookie repeated", cfg: Config{CookieName: "jwt"}, cookies: []string{"jwt=" + tok, "jwt=x.y.z"}},
		{
			name: "header wins over cookie", cfg: Config{CookieName: "jwt"},
			header: map[string][]string{"Authorization": {"Bearer h.h.h"}}, cookies: []string{"jwt=" + tok}, want: "h.h.h", wantOK: true,
		},
		{
			name: "cookie used when header holds another scheme", cfg: Config{CookieName: "jwt"},
			header: map[string][]string{"Authorization": {"Basic YWxpY2U6cHc="}}, cookies: []string{"jwt=" + tok}, want: tok, wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, tt.cfg)
			target := tt.url
			if target == "" {
				target = "/"
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			for k, vals := range tt.header {
				r.Header[k] = vals
			}
			if len(tt.cookies) > 0 {
				r.Header.Set("Cookie", strings.Join(tt.cookies, "; "))
			}
			got, ok := v.ExtractToken(r)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ExtractToken = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	type clock struct{ now time.Time }
	setupClock := func(t *testing.T, cfg Config) (*Verifier, *clock) {
		c := &clock{now: testNow}
		cfg.Now = func() time.Time { return c.now }
		return setup(t, cfg), c
	}

	t.Run("same token returns the cached result", func(t *testing.T) {
		t.Parallel()
		v, _ := setupClock(t, Config{})
		tok := good()
		a, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		b, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Error("second Verify did not come from the cache")
		}
	})

	t.Run("cache off verifies every time", func(t *testing.T) {
		t.Parallel()
		v, _ := setupClock(t, Config{CacheSize: -1})
		tok := good()
		a, _ := v.Verify(context.Background(), tok)
		b, _ := v.Verify(context.Background(), tok)
		if a == nil || a == b {
			t.Error("results were shared with the cache off")
		}
	})

	t.Run("entry lives at most CacheTTL", func(t *testing.T) {
		t.Parallel()
		v, c := setupClock(t, Config{CacheTTL: 10 * time.Second})
		tok := good()
		a, _ := v.Verify(context.Background(), tok)
		c.now = testNow.Add(9 * time.Second)
		if b, _ := v.Verify(context.Background(), tok); b != a {
			t.Error("entry gone before its TTL")
		}
		c.now = testNow.Add(10 * time.Second)
		if b, _ := v.Verify(context.Background(), tok); b == a {
			t.Error("entry outlived its TTL")
		}
	})

	t.Run("entry never outlives exp", func(t *testing.T) {
		t.Parallel()
		v, c := setupClock(t, Config{})
		tok := mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"exp": testNow.Add(5 * time.Second).Unix()}), hs256(testSecret))
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		c.now = testNow.Add(5 * time.Second)
		mustRefuse(t, verifyErr(v, tok))
	})

	t.Run("size is bounded", func(t *testing.T) {
		t.Parallel()
		v, _ := setupClock(t, Config{CacheSize: 8})
		for i := range 50 {
			tok := mint(`{"alg":"HS256"}`, claimsJSON(map[string]any{"jti": i}), hs256(testSecret))
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
		v.cache.mu.RLock()
		n := len(v.cache.entries)
		v.cache.mu.RUnlock()
		if n > 8 {
			t.Errorf("cache holds %d entries, limit 8", n)
		}
	})

	t.Run("refused tokens are not cached", func(t *testing.T) {
		t.Parallel()
		v, _ := setupClock(t, Config{})
		mustRefuse(t, verifyErr(v, good()+"x"))
		v.cache.mu.RLock()
		n := len(v.cache.entries)
		v.cache.mu.RUnlock()
		if n != 0 {
			t.Errorf("cache holds %d entries after a refusal", n)
		}
	})
}

var (
	sha384    = crypto.SHA384.New
	sha512New = crypto.SHA512.New
)
