package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

// testNow is the fixed clock every test verifier runs on.
var testNow = time.Unix(1_800_000_000, 0)

func fixedNow() time.Time { return testNow }

// discard is the logger of tests that do not look at logs.
var discard = slog.New(slog.DiscardHandler)

// testSecret is the 32-byte HS256 secret AsyncMQ's own tests use.
var testSecret = []byte("test-secret-for-asyncmq-jwt-32-bytes")

// Keys are generated once per test binary: RSA generation is slow on a shared machine.
var (
	rsaKey     = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsaKey2    = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsaKey1024 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(1024) })
	ecKey      = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P256()) })
	ecKey2     = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P256()) })
	ecKey384   = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P384()) })
	ecKey521   = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P521()) })
	edKey      = sync.OnceValue(func() ed25519.PrivateKey { return mustEd() })
	edKey2     = sync.OnceValue(func() ed25519.PrivateKey { return mustEd() })
	secret384  = bytes.Repeat([]byte{0xa5}, 48)
	secret512  = bytes.Repeat([]byte{0x5a}, 64)
)

func mustEd() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// signer produces a signature over the JWS signing input. Tests sign with crypto/* directly,
// never through golang-jwt, so that they can build tokens the library would refuse to.
type signer func(input []byte) []byte

func hsSigner(h func() hash.Hash, key []byte) signer {
	return func(in []byte) []byte {
		m := hmac.New(h, key)
		m.Write(in)
		return m.Sum(nil)
	}
}

func hs256(key []byte) signer { return hsSigner(sha256.New, key) }

func rs256(k *rsa.PrivateKey) signer {
	return func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func ps256(k *rsa.PrivateKey, saltLen int) signer {
	return func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: saltLen})
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// es signs with ECDSA in the JWS form: R and S as fixed-size big-endian integers.
func es(k *ecdsa.PrivateKey) signer {
	return func(in []byte) []byte {
		var digest []byte
		switch k.Curve.Params().BitSize {
		case 256:
			s := sha256.Sum256(in)
			digest = s[:]
		case 384:
			s := sha512.Sum384(in)
			digest = s[:]
		default:
			s := sha512.Sum512(in)
			digest = s[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			panic(err)
		}
		return ecSig(k.Curve.Params().BitSize, r, s)
	}
}

func ecSig(bits int, r, s *big.Int) []byte {
	size := (bits + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out
}

func eddsa(k ed25519.PrivateKey) signer {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

func noSig(in []byte) []byte { return nil }

var enc = base64.RawURLEncoding

// mint assembles a compact JWS by hand from raw JSON text, so tests control every byte of the
// header and the claims (duplicates, odd types, members golang-jwt would never write).
func mint(header, claims string, sign signer) string {
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	return input + "." + enc.EncodeToString(sign([]byte(input)))
}

// claimsJSON returns a valid claim set for the test clock, with overrides merged in; a nil
// override value deletes the claim.
func claimsJSON(overrides map[string]any) string {
	c := map[string]any{
		"sub":  "alice",
		"name": "Alice",
		"iat":  testNow.Add(-time.Minute).Unix(),
		"exp":  testNow.Add(time.Hour).Unix(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// good returns a valid token for the default test verifier (HS256 with testSecret).
func good() string {
	return mint(`{"alg":"HS256","typ":"JWT"}`, claimsJSON(nil), hs256(testSecret))
}

// setup returns a verifier on the test clock, HS256 with testSecret unless cfg says otherwise.
func setup(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	if len(cfg.Secret) == 0 && cfg.PublicKeyFile == "" && cfg.PublicKey == nil && cfg.JWKSURL == "" {
		cfg.Secret = testSecret
	}
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// writeFile writes data to a file in a per-test directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// countingServer serves body (swappable) and counts requests.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
	body atomic.Pointer[[]byte]
}

func newCountingServer(t *testing.T, body []byte) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.set(body)
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*cs.body.Load())
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *countingServer) set(body []byte) { cs.body.Store(&body) }

// jwks builds a key set document from raw JWK JSON objects.
func jwks(keys ...string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// rsaJWK, ecJWK and edJWK render public keys as JWK JSON with the given alg, kid and extra
// members (`"use":"enc"` and the like).
func rsaJWK(pub *rsa.PublicKey, alg, kid, extra string) string {
	return fmt.Sprintf(`{"kty":"RSA","alg":%q,"kid":%q,"n":%q,"e":%q%s}`, alg, kid,
		enc.EncodeToString(pub.N.Bytes()), enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes()), extra)
}

func ecJWK(pub *ecdsa.PublicKey, alg, kid, extra string) string {
	point, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	size := (len(point) - 1) / 2
	return fmt.Sprintf(`{"kty":"EC","crv":%q,"alg":%q,"kid":%q,"x":%q,"y":%q%s}`, pub.Curve.Params().Name, alg, kid,
		enc.EncodeToString(point[1:1+size]), enc.EncodeToString(point[1+size:]), extra)
}

func edJWK(pub ed25519.PublicKey, kid, extra string) string {
	return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":%q,"x":%q%s}`, kid, enc.EncodeToString(pub), extra)
}

// mustRefuse fails unless err is a refusal (ErrInvalidToken), which is what the admin gate turns
// into a redirect to the login page, and, when because is given, unless the refusal says so:
// a token refused for the wrong reason would hide the check the test means to exercise.
func mustRefuse(t *testing.T, err error, because ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("token accepted, want it refused")
	}
	if !isInvalid(err) {
		t.Fatalf("error %v does not wrap ErrInvalidToken and admin.ErrNoCredentials", err)
	}
	for _, want := range because {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refused with %q, want a refusal mentioning %q", err, want)
		}
	}
}

func isInvalid(err error) bool {
	return errors.Is(err, ErrInvalidToken) && errors.Is(err, admin.ErrNoCredentials)
}

// headerOf parses the header segment of a token as the verifier does.
func headerOf(seg string) (joseHeader, error) {
	sc := new(scratch)
	raw, err := sc.decode("header", seg)
	if err != nil {
		return joseHeader{}, err
	}
	return parseHeader(sc, raw)
}
