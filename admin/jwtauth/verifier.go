package jwtauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/golang-jwt/jwt/v5"
)

// keySource finds the key a token must verify under.
type keySource interface {
	// key returns the key for kid (hasKID false when the token names none) bound to alg.
	key(ctx context.Context, kid string, hasKID bool, alg *algorithm) (*boundKey, error)
	close()
}

// Verifier checks JSON Web Tokens against one key source. It is safe for concurrent use.
type Verifier struct {
	s         *settings
	log       *slog.Logger
	allowed   map[string]*algorithm
	keys      keySource
	validator *jwt.Validator
	cache     *tokenCache
	closeOnce sync.Once
}

// NewVerifier returns a Verifier for cfg. With Config.JWKSURL it fetches the key set once,
// under ctx, and starts refreshing it in the background until Close.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	v := &Verifier{s: s, log: s.Logger, allowed: make(map[string]*algorithm)}
	if s.CacheSize > 0 {
		v.cache = newTokenCache(s.CacheSize)
	}

	switch {
	case len(s.Secret) > 0:
		err = v.useStaticKey(s.Secret, "HS256")
	case s.PublicKeyFile != "":
		var data []byte
		if data, err = os.ReadFile(s.PublicKeyFile); err != nil {
			return nil, fmt.Errorf("jwtauth: read public key: %w", err)
		}
		pub, perr := parsePublicKeyPEM(data)
		if perr != nil {
			return nil, fmt.Errorf("jwtauth: public key %s: %w", s.PublicKeyFile, perr)
		}
		err = v.usePublicKey(pub)
	case s.PublicKey != nil:
		err = v.usePublicKey(s.PublicKey)
	default:
		err = v.useJWKS(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}

	opts := []jwt.ParserOption{
		jwt.WithLeeway(s.Leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.Now),
	}
	if s.requireExp {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if s.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.Audience))
	}
	if s.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(s.Issuer))
	}
	v.validator = jwt.NewValidator(opts...)
	return v, nil
}

func (v *Verifier) usePublicKey(pub any) error {
	name, err := AlgorithmForKey(pub)
	if err != nil {
		return err
	}
	return v.useStaticKey(pub, name)
}

// useStaticKey binds the one configured key to its one algorithm.
func (v *Verifier) useStaticKey(key any, defaultAlg string) error {
	name := defaultAlg
	switch len(v.s.algs) {
	case 0:
	case 1:
		name = v.s.algs[0]
	default:
		return fmt.Errorf("algorithms lists %d algorithms, but a single key may be used with only one (RFC 8725 §3.1)", len(v.s.algs))
	}
	alg, err := lookupAlgorithm(name)
	if err != nil {
		return err
	}
	var bk *boundKey
	if secret, ok := key.([]byte); ok {
		bk, err = bindSecret(secret, alg)
		if err == nil && isPrintable(secret) {
			v.log.Warn("jwtauth: the HMAC secret is printable text; if a person chose it, it can be guessed offline from a single token, so prefer random bytes (GenerateSecret)")
		}
		if err == nil && lowEntropy(secret) {
			v.log.Warn("jwtauth: the HMAC secret is low-entropy (few distinct bytes or a repeated pattern); it is long enough but easy to guess, so replace it with random bytes (GenerateSecret)")
		}
	} else {
		bk, err = bindPublicKey(key, alg, "")
	}
	if err != nil {
		return err
	}
	v.allowed[alg.name] = alg
	v.keys = staticKey{bk}
	return nil
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !unicode.IsPrint(rune(c)) {
			return false
		}
	}
	return true
}

// Thresholds of lowEntropy. Random secrets of the minimum length (32 bytes) hold about 30
// distinct bytes and measure about 150 bits by the byte-frequency estimate below; a secret under
// these marks was not drawn at random.
const (
	minDistinctSecretBytes = 8
	minSecretEntropyBits   = 96
)

// lowEntropy reports whether a secret that passed the length check is still weak: made of few
// distinct bytes ("aaaa…", "abab…"), a repetition of a shorter pattern, or of low byte-frequency
// (Shannon) entropy over its whole length. It estimates from the secret alone, so it catches
// placeholders and patterns, not a long secret a person made up.
func lowEntropy(b []byte) bool {
	var counts [256]int
	distinct := 0
	for _, c := range b {
		if counts[c] == 0 {
			distinct++
		}
		counts[c]++
	}
	if distinct < minDistinctSecretBytes {
		return true
	}
	for period := 1; period <= len(b)/2; period++ {
		if bytes.Equal(b[period:], b[:len(b)-period]) {
			return true
		}
	}
	bits := 0.0
	n := float64(len(b))
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			bits -= float64(k) * math.Log2(p)
		}
	}
	return bits < minSecretEntropyBits
}

type staticKey struct{ k *boundKey }

func (s staticKey) key(_ context.Context, _ string, _ bool, alg *algorithm) (*boundKey, error) {
	if alg != s.k.alg {
		return nil, invalid("alg does not match the key's algorithm")
	}
	return s.k, nil
}

func (staticKey) close() {}

// Close stops the background JWKS refresh. It is safe to call more than once.
func (v *Verifier) Close() error {
	v.closeOnce.Do(v.keys.close)
	return nil
}

// Verify checks token and returns its claims. A refused token yields an error wrapping
// ErrInvalidToken and admin.ErrNoCredentials whose message says which rule failed. ctx bounds
// the JWKS fetch an unknown key ID may trigger.
//
// A Token is shared by every Verify of the same token while it is cached; treat it as
// read-only.
func (v *Verifier) Verify(ctx context.Context, token string) (*Token, error) {
	if token == "" {
		return nil, errEmptyToken
	}
	// The size cap comes before anything else, hashing included: CVE-2025-30204 was an
	// allocation blow-up on a long run of dots.
	if len(token) > v.s.MaxTokenSize {
		return nil, errTooLarge
	}
	if v.cache == nil {
		t, _, err := v.verify(ctx, token)
		return t, err
	}
	now := v.s.Now()
	sum := tokenSum(token)
	if t := v.cache.get(sum, now); t != nil {
		return t, nil
	}
	gen := v.cache.generation()
	t, until, err := v.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if limit := now.Add(v.s.CacheTTL); until.IsZero() || until.After(limit) {
		until = limit
	}
	v.cache.put(sum, t, now, until, gen)
	return t, nil
}

// verify checks token from scratch. until is the token's expiry, or zero.
func (v *Verifier) verify(ctx context.Context, token string) (t *Token, until time.Time, err error) {
	hseg, pseg, sseg, err := compactParts(token)
	if err != nil {
		return nil, until, err
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	raw, err := sc.decode("header", hseg)
	if err != nil {
		return nil, until, err
	}
	h, err := parseHeader(sc, raw)
	if err != nil {
		return nil, until, err
	}
	alg, ok := v.allowed[h.Alg]
	if !ok {
		// Also where "none", "NONE" and friends end: they are never in the allow list.
		return nil, until, invalid("alg is not one of the accepted algorithms")
	}
	key, err := v.keys.key(ctx, h.Kid, h.HasKID, alg)
	if err != nil {
		return nil, until, err
	}
	sig, err := sc.decode("signature", sseg)
	if err != nil {
		return nil, until, err
	}
	if err := alg.method.Verify(token[:len(hseg)+1+len(pseg)], sig, key.key); err != nil {
		return nil, until, invalidCause("signature does not verify", err)
	}

	// Only now, with the signature checked, does the payload reach the JSON decoder.
	payload, err := sc.decode("payload", pseg)
	if err != nil {
		return nil, until, err
	}
	claims, err := sc.decodeObject("claim set", payload)
	if err != nil {
		return nil, until, err
	}
	// One allocation holds the token, its user and the claims the validator reads.
	vt := &verifiedToken{}
	rc := &vt.registered
	if err := registeredClaims(claims, rc, &vt.times); err != nil {
		return nil, until, err
	}
	if len(rc.Audience) > 0 && v.s.Audience == "" {
		return nil, until, invalid(`token has an "aud" claim but no audience is configured`)
	}
	if err := v.validator.Validate(rc); err != nil {
		return nil, until, invalidCause("claims", err)
	}

	sub, _ := claims[v.s.UserClaim].(string)
	if sub == "" {
		return nil, until, invalid(fmt.Sprintf("%q claim is missing or not a non-empty string", v.s.UserClaim))
	}
	name, _ := claims[v.s.NameClaim].(string)
	if name == "" {
		name = sub
	}
	t = &vt.token
	*t = Token{
		Subject: sub,
		Name:    name,
		IsAdmin: admin.Truthy(claims[v.s.AdminClaim]),
		Roles:   admin.RolesFromClaim(claims[v.s.RolesClaim]),
		Claims:  claims,
		user:    &vt.user,
	}
	if rc.ExpiresAt != nil {
		t.ExpiresAt = rc.ExpiresAt.Time
		until = t.ExpiresAt
	}
	vt.user = admin.User{ID: t.Subject, Name: t.Name, IsAdmin: t.IsAdmin, Roles: t.Roles, Claims: t.Claims, ExpiresAt: t.ExpiresAt}
	return t, until, nil
}

type verifiedToken struct {
	token      Token
	user       admin.User
	registered jwt.RegisteredClaims
	times      claimTimes
}

// ExtractToken returns the token a request carries: from Config.HeaderName after the scheme,
// or, when that header is absent or holds another scheme, from the Config.CookieName cookie.
// A request with the header or the cookie repeated carries no token, since the copies could
// disagree. Tokens in the URL are never read: they leak into logs and browser history
// (RFC 6750 §5.3).
func (v *Verifier) ExtractToken(r *http.Request) (string, bool) {
	switch vals := r.Header[v.s.headerKey]; len(vals) {
	case 0:
	case 1:
		if tok, ok := parseScheme(vals[0], v.s.Scheme); ok {
			return tok, true
		}
	default:
		return "", false
	}
	if v.s.CookieName == "" {
		return "", false
	}
	cookies := r.CookiesNamed(v.s.CookieName)
	if len(cookies) != 1 {
		return "", false
	}
	val := cookies[0].Value
	if tok, ok := parseScheme(val, v.s.Scheme); ok {
		return tok, true
	}
	tok := strings.Trim(val, " \t")
	return tok, tok != ""
}

// allowedAlgorithms lists the accepted algorithms, for the login page and error messages.
func (v *Verifier) allowedAlgorithms() []string {
	names := make([]string, 0, len(v.allowed))
	for n := range v.allowed {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// tokenHasher hashes a token without converting it to a []byte, which would allocate a copy on
// every request; the cached path is meant to allocate nothing.
type tokenHasher struct {
	h   hash.Hash
	buf [512]byte
	sum [sha256.Size]byte
}

var tokenHashers = sync.Pool{New: func() any { return &tokenHasher{h: sha256.New()} }}

func tokenSum(token string) [sha256.Size]byte {
	th := tokenHashers.Get().(*tokenHasher)
	th.h.Reset()
	for len(token) > 0 {
		n := copy(th.buf[:], token)
		th.h.Write(th.buf[:n])
		token = token[n:]
	}
	th.h.Sum(th.sum[:0])
	sum := th.sum
	tokenHashers.Put(th)
	return sum
}

// tokenCache remembers verified tokens by the SHA-256 of their text.
type tokenCache struct {
	mu      sync.RWMutex
	max     int
	gen     uint64
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	tok   *Token
	until int64 // Unix nanoseconds
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{max: size, entries: make(map[[sha256.Size]byte]cacheEntry)}
}

func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time) *Token {
	c.mu.RLock()
	e, ok := c.entries[sum]
	c.mu.RUnlock()
	if ok && now.UnixNano() < e.until {
		return e.tok
	}
	return nil
}

func (c *tokenCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put stores t unless the cache was cleared since gen was read: a token verified under a key
// that a concurrent JWKS refresh just removed must not outlive the refresh.
func (c *tokenCache) put(sum [sha256.Size]byte, t *Token, now, until time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if e.until <= now.UnixNano() {
				delete(c.entries, k)
			}
		}
		// Still full of live entries: drop about a tenth, in map order, which is random enough
		// that no caller can choose whose entry goes.
		for k := range c.entries {
			if len(c.entries) < c.max-c.max/10 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[sum] = cacheEntry{tok: t, until: until.UnixNano()}
}

// clear forgets every token; the JWKS refresh calls it when the key set changes.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.gen++
}
