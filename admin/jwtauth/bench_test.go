package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

// benchCase is one algorithm with its key, a token and the raw crypto/* verification of that
// token's signature, which is the floor a verifier cannot go below.
type benchCase struct {
	alg string
	cfg Config
	tok string
	raw func(b *testing.B, input, sig []byte)
}

func benchCases() []benchCase {
	claims := claimsJSON(map[string]any{"roles": []string{"operator"}, "is_admin": true, "aud": "asyncmq-admin", "iss": "https://issuer.example"})
	base := Config{Audience: "asyncmq-admin", Issuer: "https://issuer.example", Logger: discard, Now: fixedNow}
	with := func(f func(*Config)) Config { c := base; f(&c); return c }
	return []benchCase{
		{
			alg: "HS256",
			cfg: with(func(c *Config) { c.Secret = testSecret }),
			tok: mint(`{"alg":"HS256","typ":"JWT"}`, claims, hs256(testSecret)),
			raw: func(b *testing.B, input, sig []byte) {
				m := hmac.New(sha256.New, testSecret)
				m.Write(input)
				if !hmac.Equal(m.Sum(nil), sig) {
					b.Fatal("bad MAC")
				}
			},
		},
		{
			alg: "RS256",
			cfg: with(func(c *Config) { c.PublicKey = &rsaKey().PublicKey }),
			tok: mint(`{"alg":"RS256","typ":"JWT"}`, claims, rs256(rsaKey())),
			raw: func(b *testing.B, input, sig []byte) {
				sum := sha256.Sum256(input)
				if err := rsa.VerifyPKCS1v15(&rsaKey().PublicKey, crypto.SHA256, sum[:], sig); err != nil {
					b.Fatal(err)
				}
			},
		},
		{
			alg: "ES256",
			cfg: with(func(c *Config) { c.PublicKey = &ecKey().PublicKey }),
			tok: mint(`{"alg":"ES256","typ":"JWT"}`, claims, es(ecKey())),
			raw: func(b *testing.B, input, sig []byte) {
				sum := sha256.Sum256(input)
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				if !ecdsa.Verify(&ecKey().PublicKey, sum[:], r, s) {
					b.Fatal("bad signature")
				}
			},
		},
		{
			alg: "EdDSA",
			cfg: with(func(c *Config) { c.PublicKey = edKey().Public() }),
			tok: mint(`{"alg":"EdDSA","typ":"JWT"}`, claims, eddsa(edKey())),
			raw: func(b *testing.B, input, sig []byte) {
				if !ed25519.Verify(edKey().Public().(ed25519.PublicKey), input, sig) {
					b.Fatal("bad signature")
				}
			},
		},
	}
}

// BenchmarkAuthenticate measures a request through Backend.Authenticate: "raw" is the bare
// signature check of the same token, "cold" a full verification with the cache off, and
// "cached" a token seen before. Compare cold against raw for the verifier's overhead.
func BenchmarkAuthenticate(b *testing.B) {
	for _, bc := range benchCases() {
		dot := strings.LastIndexByte(bc.tok, '.')
		input := []byte(bc.tok[:dot])
		sig, err := enc.DecodeString(bc.tok[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.alg+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.raw(b, input, sig)
			}
		})
		for _, mode := range []string{"cold", "cached"} {
			b.Run(bc.alg+"/"+mode, func(b *testing.B) {
				cfg := bc.cfg
				if mode == "cold" {
					cfg.CacheSize = -1
				}
				be := setupBackend(b, cfg)
				r := httptest.NewRequest(http.MethodGet, "/asyncmq/", nil)
				r.Header.Set("Authorization", "Bearer "+bc.tok)
				if _, err := be.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := be.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGate measures a whole admitted request through the admin handler, with the admin's
// default layers (security headers, CSRF check, sessions) and with sessions off, for a cached
// and an uncached token. The dashboard handler does nothing.
func BenchmarkGate(b *testing.B) {
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, bc := range benchCases() {
		for _, sessions := range []bool{true, false} {
			for _, mode := range []string{"cold", "cached"} {
				name := bc.alg + "/" + mode
				if !sessions {
					name += "/no-session"
				}
				b.Run(name, func(b *testing.B) {
					cfg := bc.cfg
					if mode == "cold" {
						cfg.CacheSize = -1
					}
					a, err := admin.New(admin.Config{
						EnableLogin:    true,
						Backend:        setupBackend(b, cfg),
						Handler:        noop,
						Logger:         discard,
						IncludeSession: &sessions,
					})
					if err != nil {
						b.Fatal(err)
					}
					h := a.Handler()
					r := httptest.NewRequest(http.MethodGet, "/asyncmq/queues", nil)
					r.Header.Set("Authorization", "Bearer "+bc.tok)
					w := &discardResponse{h: http.Header{}}
					b.ReportAllocs()
					for b.Loop() {
						clear(w.h)
						w.code = 0
						h.ServeHTTP(w, r)
						if w.code != 0 && w.code != http.StatusOK {
							b.Fatalf("status %d", w.code)
						}
					}
				})
			}
		}
	}
}

// discardResponse is a ResponseWriter that keeps nothing, so the benchmark measures the
// handler rather than httptest.ResponseRecorder.
type discardResponse struct {
	h    http.Header
	code int
}

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponse) WriteHeader(code int)        { d.code = code }

// BenchmarkAuthenticateRefused measures the cost of turning away junk, which anyone can send.
func BenchmarkAuthenticateRefused(b *testing.B) {
	tests := map[string]string{
		"oversized":     strings.Repeat(".", 1<<20),
		"bad signature": good()[:len(good())-2] + "AA",
		"alg none":      mint(`{"alg":"none"}`, claimsJSON(nil), func([]byte) []byte { return []byte{0} }),
	}
	for name, tok := range tests {
		b.Run(name, func(b *testing.B) {
			be := setupBackend(b, Config{CacheSize: -1})
			r := httptest.NewRequest(http.MethodGet, "/asyncmq/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Authenticate(r); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkColdOverRaw interleaves one raw signature check and one cold Authenticate per
// iteration and reports the ratio of their medians. Interleaving exposes both to the same load,
// and medians ignore the iterations a busy machine descheduled, so the ratio holds steady where
// ns/op does not.
func BenchmarkColdOverRaw(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.alg, func(b *testing.B) {
			dot := strings.LastIndexByte(bc.tok, '.')
			input := []byte(bc.tok[:dot])
			sig, err := enc.DecodeString(bc.tok[dot+1:])
			if err != nil {
				b.Fatal(err)
			}
			cfg := bc.cfg
			cfg.CacheSize = -1
			be := setupBackend(b, cfg)
			r := httptest.NewRequest(http.MethodGet, "/asyncmq/", nil)
			r.Header.Set("Authorization", "Bearer "+bc.tok)
			var raw, cold []time.Duration
			for b.Loop() {
				t0 := time.Now()
				bc.raw(b, input, sig)
				t1 := time.Now()
				if _, err := be.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				cold = append(cold, time.Since(t1))
				raw = append(raw, t1.Sub(t0))
			}
			mr, mc := median(raw), median(cold)
			b.ReportMetric(float64(mc)/float64(mr), "cold/raw")
			b.ReportMetric(float64(mr.Nanoseconds()), "raw-median-ns")
			b.ReportMetric(float64(mc.Nanoseconds()), "cold-median-ns")
		})
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
