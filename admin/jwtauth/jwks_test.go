package jwtauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestJWKSInitialFetchFailure(t *testing.T) {
	t.Parallel()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"500", failing.URL, "unexpected status 500"},
		{"unreachable", closed.URL, "connect"},
		{"not JSON", newCountingServer(t, []byte("<html>")).URL, "not a JSON Web Key Set"},
		{"no usable key", newCountingServer(t, jwks(`{"kty":"oct","alg":"HS256","k":"AAAA"}`)).URL, "no usable signing key"},
		{"empty set", newCountingServer(t, []byte(`{"keys":[]}`)).URL, "no usable signing key"},
		{"duplicate keys member", newCountingServer(t, []byte(`{"keys":[],"keys":[]}`)).URL, "not a JSON Web Key Set"},
		{"duplicate member in a key", newCountingServer(t, jwks(`{"kty":"EC","kty":"RSA"}`)).URL, "duplicate object member"},
	}
	// A credential in the URL never reaches the error (which New's caller logs or prints); the
	// error still names the server.
	for _, u := range []string{failing.URL + "/jwks?api_key=hunter2", closed.URL + "/jwks?access_token=hunter2"} {
		_, err := NewVerifier(context.Background(), Config{JWKSURL: u, Logger: discard})
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), strings.TrimPrefix(failing.URL, "http://")[:9]) {
			t.Errorf("NewVerifier(%q) error = %v; want an error naming the host without the key", u, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewVerifier(context.Background(), Config{JWKSURL: tt.url, Logger: discard})
			if err == nil {
				t.Fatal("NewVerifier succeeded")
			}
			if !strings.Contains(err.Error(), tt.url) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q should name %s and say %q", err, tt.url, tt.want)
			}
		})
	}
	t.Run("oversized response", func(t *testing.T) {
		t.Parallel()
		srv := newCountingServer(t, []byte(`{"keys":[],"pad":"`+strings.Repeat("x", maxJWKSSize)+`"}`))
		if _, err := NewVerifier(context.Background(), Config{JWKSURL: srv.URL, Logger: discard}); err == nil || !strings.Contains(err.Error(), "exceeds") {
			t.Errorf("error %v, want the size limit", err)
		}
	})
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestJWKSUnknownKIDRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	k1 := rsaJWK(&rsaKey().PublicKey, "RS256", "k1", "")
	k2 := ecJWK(&ecKey().PublicKey, "ES256", "k2", "")
	srv := newCountingServer(t, jwks(k1))
	c := &clock{now: testNow}
	v := setup(t, Config{JWKSURL: srv.URL, Now: c.Now, RefreshUnknownKIDInterval: time.Minute})
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("fetches after start = %d, want 1", n)
	}
	claims := claimsJSON(map[string]any{"exp": testNow.Add(24 * time.Hour).Unix()})

	// The key server rotates in k2; the first token that names it triggers one fetch.
	srv.set(jwks(k1, k2))
	if err := verifyErr(v, mint(`{"alg":"ES256","kid":"k2"}`, claims, es(ecKey()))); err != nil {
		t.Fatalf("token for the rotated-in key refused: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}

	// A flood of made-up kids, sequential and concurrent, causes no further fetch.
	for i := range 20 {
		mustRefuse(t, verifyErr(v, mint(fmt.Sprintf(`{"alg":"ES256","kid":"made-up-%d"}`, i), claims, es(ecKey()))))
	}
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for i := range 20 {
		wg.Go(func() {
			if verifyErr(v, mint(fmt.Sprintf(`{"alg":"ES256","kid":"concurrent-%d"}`, i), claims, es(ecKey()))) == nil {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 2 || accepted.Load() != 0 {
		t.Fatalf("fetches = %d accepted = %d, want 2 and 0", n, accepted.Load())
	}

	// Once the interval has passed, an unknown kid may fetch again, once.
	c.add(time.Minute)
	mustRefuse(t, verifyErr(v, mint(`{"alg":"ES256","kid":"later-1"}`, claims, es(ecKey()))))
	mustRefuse(t, verifyErr(v, mint(`{"alg":"ES256","kid":"later-2"}`, claims, es(ecKey()))))
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestJWKSConcurrentUnknownKIDFetchesOnce(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, jwks(rsaJWK(&rsaKey().PublicKey, "RS256", "k1", "")))
	v := setup(t, Config{JWKSURL: srv.URL})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			verifyErr(v, mint(fmt.Sprintf(`{"alg":"RS256","kid":"x%d"}`, i), claimsJSON(nil), rs256(rsaKey())))
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

func TestJWKSBackgroundRefreshRemovesKeys(t *testing.T) {
	t.Parallel()
	k1 := edJWK(edKey().Public().(ed25519.PublicKey), "k1", "")
	k2 := edJWK(edKey2().Public().(ed25519.PublicKey), "k2", "")
	srv := newCountingServer(t, jwks(k1, k2))
	v := setup(t, Config{JWKSURL: srv.URL, JWKSRefreshInterval: 5 * time.Millisecond})
	old := mint(`{"alg":"EdDSA","kid":"k1"}`, claimsJSON(nil), eddsa(edKey()))
	if err := verifyErr(v, old); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// k1 is retired. Its token, though cached, must stop working at the next refresh.
	srv.set(jwks(k2))
	waitFor(t, func() bool { return verifyErr(v, old) != nil })
	mustRefuse(t, verifyErr(v, old))
	if err := verifyErr(v, mint(`{"alg":"EdDSA","kid":"k2"}`, claimsJSON(nil), eddsa(edKey2()))); err != nil {
		t.Fatalf("k2 refused: %v", err)
	}
}

func TestJWKSRefreshFailureKeepsKeys(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	var hits atomic.Int64
	body := jwks(ecJWK(&ecKey().PublicKey, "ES256", "k1", ""))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	v := setup(t, Config{JWKSURL: srv.URL, JWKSRefreshInterval: 5 * time.Millisecond, CacheSize: -1})
	fail.Store(true)
	start := hits.Load()
	waitFor(t, func() bool { return hits.Load() >= start+3 })
	if err := verifyErr(v, mint(`{"alg":"ES256","kid":"k1"}`, claimsJSON(nil), es(ecKey()))); err != nil {
		t.Fatalf("key lost after failed refreshes: %v", err)
	}
}

// TestParseJWKSPolicy checks that each kind of unwanted key is refused for its own reason, so
// that no refusal in TestAttackJWKSWeakKeys passes by accident.
func TestParseJWKSPolicy(t *testing.T) {
	t.Parallel()
	allowed := map[string]*algorithm{}
	for _, n := range asymmetricAlgorithms {
		allowed[n] = algorithms[n]
	}
	rsa2 := &rsaKey2().PublicKey
	ones32 := enc.EncodeToString(bytes.Repeat([]byte{1}, 32))
	tests := []struct {
		name string
		jwk  string
		want string
	}{
		{"symmetric", `{"kty":"oct","alg":"HS256","kid":"x","k":"` + enc.EncodeToString(testSecret) + `"}`, "kty oct"},
		{"RSA 1024", rsaJWK(&rsaKey1024().PublicKey, "RS256", "x", ""), "1024 bits"},
		{"RSA e=1", strings.Replace(rsaJWK(rsa2, "RS256", "x", ""), `"e":"AQAB"`, `"e":"AQ"`, 1), "exponent"},
		{"RSA e even", strings.Replace(rsaJWK(rsa2, "RS256", "x", ""), `"e":"AQAB"`, `"e":"AQAA"`, 1), "exponent"},
		{"RSA e huge", strings.Replace(rsaJWK(rsa2, "RS256", "x", ""), `"e":"AQAB"`, `"e":"AQAAAAAB"`, 1), "exponent is too large"},
		{"use enc", rsaJWK(rsa2, "RS256", "x", `,"use":"enc"`), `use "enc"`},
		{"key_ops without verify", ecJWK(&ecKey2().PublicKey, "ES256", "x", `,"key_ops":["encrypt"]`), "key_ops"},
		{"no alg", strings.Replace(rsaJWK(rsa2, "RS256", "x", ""), `"alg":"RS256",`, "", 1), "declares no alg"},
		{"alg none", rsaJWK(rsa2, "none", "x", ""), `alg "none" is not accepted`},
		{"HS256 alg on an RSA key", rsaJWK(rsa2, "HS256", "x", ""), `alg "HS256" is not accepted`},
		{"P-256 key declared ES384", ecJWK(&ecKey2().PublicKey, "ES384", "x", ""), "ES384 needs a P-384 key"},
		{"RSA key declared ES256", rsaJWK(rsa2, "ES256", "x", ""), "RSA key cannot be used with ES256"},
		{"private RSA", rsaJWK(rsa2, "RS256", "x", `,"d":"AAAA"`), "private members"},
		{"private EC", ecJWK(&ecKey2().PublicKey, "ES256", "x", `,"d":"AAAA"`), "private members"},
		{"point off the curve", strings.Replace(ecJWK(&ecKey2().PublicKey, "ES256", "x", ""), `"y":"`, `"y":"A`, 1), "coordinates must be 32 bytes"},
		{"point not on the curve", `{"kty":"EC","crv":"P-256","alg":"ES256","kid":"x","x":"` + ones32 + `","y":"` + ones32 + `"}`, "invalid P-256 point"},
		{"X25519", `{"kty":"OKP","crv":"X25519","alg":"EdDSA","kid":"x","x":"` + enc.EncodeToString(make([]byte, 32)) + `"}`, "unsupported OKP curve"},
		{"short Ed25519", `{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"x","x":"AAAA"}`, "Ed25519 key must be 32 bytes"},
		{"secp256k1", `{"kty":"EC","crv":"secp256k1","alg":"ES256","kid":"x","x":"AA","y":"AA"}`, "unsupported EC curve"},
		{"padded base64", strings.Replace(rsaJWK(rsa2, "RS256", "x", ""), `"e":"AQAB"`, `"e":"AQAB=="`, 1), "canonical base64url"},
		{"numeric n", `{"kty":"RSA","alg":"RS256","kid":"x","n":12345,"e":"AQAB"}`, "malformed key"},
		{"empty kid", rsaJWK(rsa2, "RS256", "", ""), "kid is empty"},
		{"unknown kty", `{"kty":"XYZ","alg":"RS256","kid":"x"}`, "unsupported key type"},
	}
	good := rsaJWK(&rsaKey().PublicKey, "RS256", "good", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, refused, err := parseJWKS(jwks(good, tt.jwk), allowed)
			if err != nil {
				t.Fatalf("parseJWKS: %v", err)
			}
			if len(set.all) != 1 || set.byKID["good"] == nil {
				t.Fatalf("usable keys: %d", len(set.all))
			}
			if len(refused) != 1 || !strings.Contains(refused[0].reason, tt.want) {
				t.Fatalf("refused %+v, want one key refused for %q", refused, tt.want)
			}
		})
	}
	t.Run("duplicate kid refuses both", func(t *testing.T) {
		t.Parallel()
		set, refused, _ := parseJWKS(jwks(good, ecJWK(&ecKey().PublicKey, "ES256", "dup", ""), edJWK(edKey().Public().(ed25519.PublicKey), "dup", "")), allowed)
		if len(set.all) != 1 || len(refused) != 2 || !strings.Contains(refused[0].reason, "same kid") {
			t.Fatalf("usable %d, refused %+v", len(set.all), refused)
		}
	})
}

func TestJWKSKeySelection(t *testing.T) {
	t.Parallel()
	rs := rsaJWK(&rsaKey().PublicKey, "RS256", "rs", "")
	esKey := ecJWK(&ecKey().PublicKey, "ES256", "es", "")
	claims := claimsJSON(nil)
	tests := []struct {
		name string
		set  []byte
		cfg  Config
		tok  string
		ok   bool
	}{
		{"kid and alg match", jwks(rs, esKey), Config{}, mint(`{"alg":"ES256","kid":"es"}`, claims, es(ecKey())), true},
		{"kid of an RS256 key with alg PS256", jwks(rs, esKey), Config{}, mint(`{"alg":"PS256","kid":"rs"}`, claims, ps256(rsaKey(), 32)), false},
		{"kid of an ES256 key with alg RS256", jwks(rs, esKey), Config{}, mint(`{"alg":"RS256","kid":"es"}`, claims, rs256(rsaKey())), false},
		{"no kid, one key for the alg", jwks(rs, esKey), Config{}, mint(`{"alg":"ES256"}`, claims, es(ecKey())), true},
		{"no kid, two keys for the alg", jwks(esKey, ecJWK(&ecKey2().PublicKey, "ES256", "es2", "")), Config{}, mint(`{"alg":"ES256"}`, claims, es(ecKey())), false},
		{"no kid, no key for the alg", jwks(rs), Config{}, mint(`{"alg":"ES256"}`, claims, es(ecKey())), false},
		{"key without kid", jwks(strings.Replace(esKey, `"kid":"es",`, "", 1)), Config{}, mint(`{"alg":"ES256"}`, claims, es(ecKey())), true},
		{"algorithm not allowed by config", jwks(rs, esKey), Config{Algorithms: []string{"RS256"}}, mint(`{"alg":"ES256","kid":"es"}`, claims, es(ecKey())), false},
		{"HS256 with an RSA kid", jwks(rs), Config{}, mint(`{"alg":"HS256","kid":"rs"}`, claims, hs256(rsaKey().N.Bytes())), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.JWKSURL = newCountingServer(t, tt.set).URL
			err := verifyErr(setup(t, tt.cfg), tt.tok)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			mustRefuse(t, err)
		})
	}
}

func TestVerifierCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, jwks(rsaJWK(&rsaKey().PublicKey, "RS256", "k1", "")))
	v, err := NewVerifier(context.Background(), Config{JWKSURL: srv.URL, JWKSRefreshInterval: time.Millisecond, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	// Close returns only once the refresh goroutine has exited.
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.keys.(*jwksSource).done:
	default:
		t.Fatal("refresh goroutine still running after Close")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
