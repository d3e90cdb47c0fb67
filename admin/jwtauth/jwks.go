package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/asyncmq/asyncmq/internal/redact"
)

// maxJWKSSize bounds a fetched key set; real ones are a few KiB.
const maxJWKSSize = 1 << 20

// jwksFetchTimeout bounds one fetch even when Config.HTTPClient has no timeout, so that a hung
// key server cannot hold the refresh loop, or the requests waiting on an unknown-kid fetch.
const jwksFetchTimeout = 10 * time.Second

// jwksSource serves keys from a JSON Web Key Set that it refreshes in the background. A set
// is installed whole, so a key the server stops publishing stops verifying at the next
// refresh, and a key the policy refuses never enters it.
type jwksSource struct {
	url string
	// label is url as errors and logs show it, credentials hidden.
	label    string
	client   *http.Client
	log      *slog.Logger
	allowed  map[string]*algorithm
	now      func() time.Time
	interval time.Duration // between unknown-kid fetches
	onChange func()

	set atomic.Pointer[keySet]

	// unknownSem admits one unknown-kid fetch at a time; lastUnknown is guarded by it.
	unknownSem  chan struct{}
	lastUnknown time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

type keySet struct {
	byKID map[string]*boundKey
	all   []*boundKey
	// digest identifies the usable keys, to tell a changed set from a refetched one.
	digest [sha256.Size]byte
}

func (v *Verifier) useJWKS(ctx context.Context) error {
	names := v.s.algs
	if len(names) == 0 {
		names = asymmetricAlgorithms
	}
	for _, n := range names {
		a := algorithms[n]
		if a.kind == kindHMAC {
			return fmt.Errorf("algorithms: %s needs a shared secret, and symmetric keys are never taken from a JWKS", n)
		}
		v.allowed[n] = a
	}
	src := &jwksSource{
		url:        v.s.JWKSURL,
		label:      redact.URL(v.s.JWKSURL),
		client:     v.s.HTTPClient,
		log:        v.log,
		allowed:    v.allowed,
		now:        v.s.Now,
		interval:   v.s.RefreshUnknownKIDInterval,
		unknownSem: make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	if v.cache != nil {
		src.onChange = v.cache.clear
	}
	set, err := src.fetch(ctx)
	if err != nil {
		return err
	}
	src.set.Store(set)
	loopCtx, cancel := context.WithCancel(context.Background())
	src.cancel = cancel
	go src.run(loopCtx, v.s.JWKSRefreshInterval)
	v.keys = src
	return nil
}

func (s *jwksSource) run(ctx context.Context, every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if set, err := s.fetch(ctx); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("jwtauth: JWKS refresh failed; keeping the current keys", "error", err)
				}
			} else {
				s.install(set)
			}
		}
	}
}

func (s *jwksSource) close() {
	s.cancel()
	<-s.done
}

func (s *jwksSource) install(set *keySet) {
	old := s.set.Swap(set)
	if old.digest != set.digest && s.onChange != nil {
		s.onChange()
	}
}

func (s *jwksSource) key(ctx context.Context, kid string, hasKID bool, alg *algorithm) (*boundKey, error) {
	if !hasKID {
		return s.set.Load().only(alg)
	}
	k, ok := s.set.Load().byKID[kid]
	if !ok {
		s.refreshUnknown(ctx)
		// Look again even if this call did not fetch: a concurrent one may have.
		if k, ok = s.set.Load().byKID[kid]; !ok {
			return nil, invalid("kid is not in the key set")
		}
	}
	if k.alg != alg {
		return nil, invalid("alg does not match the algorithm the key set declares for this kid")
	}
	return k, nil
}

// only returns the key for a token without "kid": the one key in the set for alg. Trying
// several would multiply the cost of every forged token.
func (ks *keySet) only(alg *algorithm) (*boundKey, error) {
	var found *boundKey
	for _, k := range ks.all {
		if k.alg == alg {
			if found != nil {
				return nil, invalid("token has no kid and the key set holds several keys for its alg")
			}
			found = k
		}
	}
	if found == nil {
		return nil, invalid("token has no kid and the key set holds no key for its alg")
	}
	return found, nil
}

// refreshUnknown fetches the set for an unknown kid, at most once per interval however many
// tokens ask. A caller that arrives while such a fetch is in flight waits for it (or for its
// own ctx), so a token for a key that was just rotated in is not refused for bad timing; any
// later caller within the interval returns at once.
func (s *jwksSource) refreshUnknown(ctx context.Context) {
	select {
	case s.unknownSem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-s.unknownSem }()
	now := s.now()
	if !s.lastUnknown.IsZero() && now.Sub(s.lastUnknown) < s.interval {
		return
	}
	s.lastUnknown = now
	set, err := s.fetch(ctx)
	if err != nil {
		s.log.Warn("jwtauth: JWKS fetch for an unknown kid failed", "error", err)
		return
	}
	s.install(set)
}

// withoutURL drops the *url.Error wrapper, which repeats the whole URL (query included); the
// callers name the URL by its redacted label instead.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// fetch downloads and parses the key set. It fails when no key passes the policy, so that an
// empty or broken response never replaces working keys.
func (s *jwksSource) fetch(ctx context.Context) (*keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", s.label, withoutURL(err))
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", s.label, withoutURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: unexpected status %s", s.label, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", s.label, err)
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("fetch JWKS %s: response exceeds %d bytes", s.label, maxJWKSSize)
	}
	set, refused, err := parseJWKS(body, s.allowed)
	for _, r := range refused {
		s.log.Warn("jwtauth: JWKS key refused", "url", s.label, "kid", r.kid, "reason", r.reason)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", s.label, err)
	}
	return set, nil
}

type refusedKey struct {
	kid    string
	reason string
}

// jwk holds the members of a JSON Web Key that the policy reads. The private members are kept
// raw only to notice that they are present.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Kid    *string  `json:"kid"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`

	D   jsontext.Value `json:"d"`
	P   jsontext.Value `json:"p"`
	Q   jsontext.Value `json:"q"`
	DP  jsontext.Value `json:"dp"`
	DQ  jsontext.Value `json:"dq"`
	QI  jsontext.Value `json:"qi"`
	Oth jsontext.Value `json:"oth"`
	K   jsontext.Value `json:"k"`
}

// parseJWKS applies the key policy to every key of a set: it returns the usable keys, the
// refused ones with the reason, and an error when the set itself is malformed or nothing is
// usable.
func parseJWKS(data []byte, allowed map[string]*algorithm) (*keySet, []refusedKey, error) {
	var doc struct {
		Keys []jsontext.Value `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var refused []refusedKey
	var usable []*boundKey
	for i, raw := range doc.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			refused = append(refused, refusedKey{kid: fmt.Sprintf("#%d", i), reason: "malformed key: " + err.Error()})
			continue
		}
		k, err := j.bind(allowed)
		if err != nil {
			refused = append(refused, refusedKey{kid: j.kidOr(i), reason: err.Error()})
			continue
		}
		usable = append(usable, k)
	}

	// A kid shared by two usable keys is ambiguous; which one a token meant is unknowable.
	counts := make(map[string]int)
	for _, k := range usable {
		if k.kid != "" {
			counts[k.kid]++
		}
	}
	set := &keySet{byKID: make(map[string]*boundKey)}
	for _, k := range usable {
		if k.kid != "" && counts[k.kid] > 1 {
			refused = append(refused, refusedKey{kid: k.kid, reason: "another key in the set has the same kid"})
			continue
		}
		set.all = append(set.all, k)
		if k.kid != "" {
			set.byKID[k.kid] = k
		}
	}
	if len(set.all) == 0 {
		return nil, refused, fmt.Errorf("no usable signing key among %d (%d refused)", len(doc.Keys), len(refused))
	}
	set.digest = digestKeys(set.all)
	return set, refused, nil
}

func digestKeys(keys []*boundKey) [sha256.Size]byte {
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		der, _ := x509.MarshalPKIXPublicKey(k.key)
		lines = append(lines, k.kid+"\x00"+k.alg.name+"\x00"+string(der))
	}
	slices.Sort(lines)
	return sha256.Sum256([]byte(strings.Join(lines, "\x01")))
}

func (j *jwk) kidOr(i int) string {
	if j.Kid != nil {
		return *j.Kid
	}
	return fmt.Sprintf("#%d", i)
}

func (j *jwk) bind(allowed map[string]*algorithm) (*boundKey, error) {
	if j.Kty == "oct" {
		return nil, errors.New("symmetric (kty oct) keys are never taken from a JWKS")
	}
	if len(j.D)+len(j.P)+len(j.Q)+len(j.DP)+len(j.DQ)+len(j.QI)+len(j.Oth)+len(j.K) > 0 {
		return nil, errors.New("the key carries private members; a published key set must hold public keys only")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("use %q is not sig", j.Use)
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return nil, errors.New(`key_ops does not include "verify"`)
	}
	if j.Alg == "" {
		return nil, errors.New("the key declares no alg, so it could be used with any; refusing it")
	}
	alg, ok := allowed[j.Alg]
	if !ok {
		return nil, fmt.Errorf("alg %q is not accepted", j.Alg)
	}
	if j.Kid != nil && (*j.Kid == "" || len(*j.Kid) > maxKIDLen) {
		return nil, errors.New("kid is empty or too long")
	}
	pub, err := j.publicKey()
	if err != nil {
		return nil, err
	}
	kid := ""
	if j.Kid != nil {
		kid = *j.Kid
	}
	return bindPublicKey(pub, alg, kid)
}

func (j *jwk) publicKey() (crypto.PublicKey, error) {
	switch j.Kty {
	case "RSA":
		n, err := jwkBytes("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := jwkBytes("e", j.E)
		if err != nil {
			return nil, err
		}
		if len(e) > 4 {
			return nil, errors.New("RSA exponent is too large")
		}
		eInt := new(big.Int).SetBytes(e)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(eInt.Int64())}, nil
	case "EC":
		var size int
		var alg string
		switch j.Crv {
		case "P-256":
			size, alg = 32, "ES256"
		case "P-384":
			size, alg = 48, "ES384"
		case "P-521":
			size, alg = 66, "ES512"
		default:
			return nil, fmt.Errorf("unsupported EC curve %q", j.Crv)
		}
		x, err := jwkBytes("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := jwkBytes("y", j.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("%s coordinates must be %d bytes each", j.Crv, size)
		}
		// ParseUncompressedPublicKey refuses points off the curve and the point at infinity.
		k, err := ecdsa.ParseUncompressedPublicKey(algorithms[alg].curve, bytes.Join([][]byte{{4}, x, y}, nil))
		if err != nil {
			return nil, fmt.Errorf("invalid %s point: %w", j.Crv, err)
		}
		return k, nil
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("unsupported OKP curve %q", j.Crv)
		}
		x, err := jwkBytes("x", j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key must be %d bytes", ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("unsupported key type %q", j.Kty)
}

func jwkBytes(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("member %q is missing", name)
	}
	b, err := b64.DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("member %q is not canonical base64url", name)
	}
	return b, nil
}
