package jwtauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error Verify returns for a token it refuses. Such errors
// also wrap admin.ErrNoCredentials, so the admin gate treats a bad token like a missing one.
var ErrInvalidToken = errors.New("invalid token")

// tokenError is a refused token. Its message names the rule the token broke and never contains
// the token or any secret, so it is safe to log.
type tokenError struct {
	msg string
	// wrapped is built once, so that errors.Is on a refusal does not allocate.
	wrapped []error
}

func (e *tokenError) Error() string { return e.msg }

func (e *tokenError) Unwrap() []error { return e.wrapped }

var refusal = []error{ErrInvalidToken, admin.ErrNoCredentials}

func invalid(reason string) error {
	return &tokenError{msg: "invalid token: " + reason, wrapped: refusal}
}

func invalidCause(reason string, cause error) error {
	return &tokenError{
		msg:     "invalid token: " + reason + ": " + cause.Error(),
		wrapped: []error{ErrInvalidToken, admin.ErrNoCredentials, cause},
	}
}

var (
	errEmptyToken = invalid("empty token")
	errTooLarge   = invalid("token exceeds the size limit")
	errNotCompact = invalid("not a compact JWS: want three base64url segments separated by two dots")
)

// maxKIDLen bounds the "kid" header; real key IDs are short, and the value only ever feeds a map
// lookup.
const maxKIDLen = 256

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are refused rather than overflowing
// time arithmetic.
const maxNumericDate = 253402300799

// Token is a verified token.
type Token struct {
	// Subject is the user ID: the value of Config.UserClaim ("sub" by default).
	Subject string
	// Name is the display name (Config.NameClaim), or Subject when the token has none.
	Name string
	// IsAdmin reports whether Config.AdminClaim is true.
	IsAdmin bool
	// Roles are the roles listed in Config.RolesClaim.
	Roles []string
	// Claims holds every claim of the token, decoded from JSON (numbers are float64).
	Claims map[string]any
	// ExpiresAt is the "exp" claim, or the zero time when the token has none.
	ExpiresAt time.Time

	user *admin.User
}

// compactParts splits a compact JWS into its three segments after checking that it has exactly
// two dots, no empty segment and nothing but base64url characters. base64.Encoding.Strict still
// skips CR and LF, so the character check cannot be left to the decoder.
func compactParts(token string) (header, payload, sig string, err error) {
	first, second := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			switch {
			case first < 0:
				first = i
			case second < 0:
				second = i
			default:
				return "", "", "", errNotCompact
			}
		default:
			return "", "", "", invalid("token contains a character outside base64url")
		}
	}
	if second < 0 || first == 0 || second == first+1 || second == len(token)-1 {
		return "", "", "", errNotCompact
	}
	return token[:first], token[first+1 : second], token[second+1:], nil
}

var b64 = base64.RawURLEncoding.Strict()

// scratch holds the buffers one verification decodes its segments into. They are pooled because
// a token is verified on every uncached request, and each decoded segment is dropped before the
// next one is decoded: the header and claims are copied out by the JSON decoder, and the
// signature is not kept.
type scratch struct {
	src, dst []byte
	rd       bytes.Reader
	dec      jsontext.Decoder
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// decode decodes one base64url segment. The result is valid until the next call.
func (s *scratch) decode(what, seg string) ([]byte, error) {
	// Decode wants a []byte; copying into a reused buffer avoids DecodeString's allocation.
	s.src = append(s.src[:0], seg...)
	n := b64.DecodedLen(len(s.src))
	if cap(s.dst) < n {
		s.dst = make([]byte, n)
	}
	n, err := b64.Decode(s.dst[:n], s.src)
	if err != nil {
		// A length that is 1 mod 4, or non-zero trailing bits: not canonical base64url.
		return nil, invalidCause(what+" is not canonical base64url", err)
	}
	return s.dst[:n], nil
}

// decodeObject decodes a JSON object strictly: duplicate member names (also when spelled with
// escapes), invalid UTF-8 and trailing data are errors, and names keep their exact spelling
// (RFC 7515 §4, RFC 8725 §3.7). It reads tokens directly rather than through reflection, which
// was most of the cost of a verification beyond the signature.
func (s *scratch) decodeObject(what string, data []byte) (map[string]any, error) {
	s.rd.Reset(data)
	s.dec.Reset(&s.rd)
	if s.dec.PeekKind() != '{' {
		return nil, invalid(what + " is not a JSON object")
	}
	v, err := readJSON(&s.dec)
	if err == nil {
		if _, err = s.dec.ReadToken(); err == io.EOF {
			return v.(map[string]any), nil
		}
		if err == nil {
			err = errors.New("data after the top-level value")
		}
	}
	return nil, invalidCause(what+" is not valid JSON without duplicate members", err)
}

var errNumberRange = errors.New("number out of range")

// readJSON reads one value as encoding/json would into an any: objects as map[string]any,
// arrays as []any, numbers as float64. Nesting depth is bounded by jsontext.
func readJSON(d *jsontext.Decoder) (any, error) {
	switch d.PeekKind() {
	case '{':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		m := make(map[string]any, 8)
		for d.PeekKind() != '}' {
			name, err := d.ReadValue()
			if err != nil {
				return nil, err
			}
			key, err := readString(name)
			if err != nil {
				return nil, err
			}
			if m[key], err = readJSON(d); err != nil {
				return nil, err
			}
		}
		_, err := d.ReadToken()
		return m, err
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		a := []any{}
		for d.PeekKind() != ']' {
			v, err := readJSON(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.ReadToken()
		return a, err
	}
	if d.PeekKind() == '"' {
		v, err := d.ReadValue()
		if err != nil {
			return nil, err
		}
		return readString(v)
	}
	tok, err := d.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '0':
		// Float clamps overflow to ±MaxFloat64; no real claim is that large.
		f := tok.Float()
		if math.Abs(f) == math.MaxFloat64 {
			return nil, errNumberRange
		}
		return f, nil
	case 't', 'f':
		return tok.Bool(), nil
	case 'n':
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected %v", tok.Kind())
}

// commonStrings are the member names and header values nearly every token repeats; reading
// them returns these constants instead of allocating a copy each time.
var commonStrings = func() map[string]string {
	m := make(map[string]string)
	for _, s := range []string{
		"alg", "typ", "kid", "crit", "JWT", "at+jwt",
		"sub", "name", "iss", "aud", "exp", "nbf", "iat", "jti", "roles", "role", "is_admin",
		"scope", "email", "groups", "azp", "sid", "client_id", "preferred_username",
	} {
		m[s] = s
	}
	for name := range algorithms {
		m[name] = name
	}
	return m
}()

// readString returns the text of a raw JSON string that the decoder has already validated.
func readString(v jsontext.Value) (string, error) {
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		if s, ok := commonStrings[string(raw)]; ok {
			return s, nil
		}
		return string(raw), nil
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

// joseHeader is what the verifier reads from the protected header. jku, x5u, jwk and x5c are
// deliberately not read, so they are never fetched or trusted.
type joseHeader struct {
	Alg    string
	Kid    string
	HasKID bool
}

// parseHeader reads the protected header member by member, skipping the ones it does not use,
// so that the common case allocates nothing. The decoder still refuses duplicate names among all
// members, read or skipped.
func parseHeader(s *scratch, raw []byte) (joseHeader, error) {
	var h joseHeader
	s.rd.Reset(raw)
	s.dec.Reset(&s.rd)
	d := &s.dec
	if d.PeekKind() != '{' {
		return h, invalid("header is not a JSON object")
	}
	malformed := func(err error) error {
		return invalidCause("header is not valid JSON without duplicate members", err)
	}
	if _, err := d.ReadToken(); err != nil {
		return h, malformed(err)
	}
	for d.PeekKind() != '}' {
		rawName, err := d.ReadValue()
		if err != nil {
			return h, malformed(err)
		}
		name, err := readString(rawName)
		if err != nil {
			return h, malformed(err)
		}
		switch name {
		case "crit":
			// RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not
			// understand, and this verifier understands none.
			return h, invalid(`"crit" header names extensions this verifier does not support`)
		case "alg", "kid":
			if d.PeekKind() != '"' {
				if err := d.SkipValue(); err != nil {
					return h, malformed(err)
				}
				return h, invalid(`"` + name + `" header is not a string`)
			}
			v, err := d.ReadValue()
			if err != nil {
				return h, malformed(err)
			}
			if len(v) > maxKIDLen+2 {
				return h, invalid(`"` + name + `" header is too long`)
			}
			str, err := readString(v)
			if err != nil {
				return h, malformed(err)
			}
			if name == "alg" {
				h.Alg = str
			} else {
				h.Kid, h.HasKID = str, true
			}
		default:
			if err := d.SkipValue(); err != nil {
				return h, malformed(err)
			}
		}
	}
	if _, err := d.ReadToken(); err != nil {
		return h, malformed(err)
	}
	if _, err := d.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the top-level value")
		}
		return h, malformed(err)
	}
	return h, nil
}

// claimTimes backs the *jwt.NumericDate fields of a jwt.RegisteredClaims, so that reading them
// costs no allocation of its own.
type claimTimes struct {
	exp, nbf, iat jwt.NumericDate
}

// registeredClaims reads the registered claims from m into c by exact name and with strict
// types: golang-jwt's MapClaims would accept "exp":0 as absent, and encoding/json's struct
// matching is case-insensitive, which would let "SUB" stand in for "sub".
func registeredClaims(m map[string]any, c *jwt.RegisteredClaims, times *claimTimes) error {
	var err error
	if c.ExpiresAt, err = numericDate(m, "exp", &times.exp); err != nil {
		return err
	}
	if c.NotBefore, err = numericDate(m, "nbf", &times.nbf); err != nil {
		return err
	}
	if c.IssuedAt, err = numericDate(m, "iat", &times.iat); err != nil {
		return err
	}
	if c.Issuer, err = stringClaim(m, "iss"); err != nil {
		return err
	}
	if c.Subject, err = stringClaim(m, "sub"); err != nil {
		return err
	}
	switch aud := m["aud"].(type) {
	case nil:
		if _, present := m["aud"]; present {
			return invalid(`"aud" claim is null`)
		}
	case string:
		if aud == "" {
			return invalid(`"aud" claim is empty`)
		}
		c.Audience = jwt.ClaimStrings{aud}
	case []any:
		if len(aud) == 0 {
			return invalid(`"aud" claim is an empty array`)
		}
		c.Audience = make(jwt.ClaimStrings, len(aud))
		for i, a := range aud {
			s, ok := a.(string)
			if !ok || s == "" {
				return invalid(`"aud" claim holds a value that is not a non-empty string`)
			}
			c.Audience[i] = s
		}
	default:
		return invalid(`"aud" claim is neither a string nor an array of strings`)
	}
	return nil
}

func numericDate(m map[string]any, name string, into *jwt.NumericDate) (*jwt.NumericDate, error) {
	v, present := m[name]
	if !present {
		return nil, nil
	}
	f, ok := v.(float64)
	if !ok {
		return nil, invalid(`"` + name + `" claim is not a number`)
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return nil, invalid(`"` + name + `" claim is out of range`)
	}
	sec, frac := math.Modf(f)
	into.Time = time.Unix(int64(sec), int64(frac*1e9)).Truncate(jwt.TimePrecision)
	return into, nil
}

func stringClaim(m map[string]any, name string) (string, error) {
	v, present := m[name]
	if !present {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid(`"` + name + `" claim is not a string`)
	}
	return s, nil
}

// parseScheme returns the credentials after scheme in an HTTP authorization value: the scheme,
// compared case-insensitively, then at least one space (RFC 9110 §11.4).
func parseScheme(value, scheme string) (string, bool) {
	if len(value) <= len(scheme) || !strings.EqualFold(value[:len(scheme)], scheme) {
		return "", false
	}
	rest := value[len(scheme):]
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	// White space inside the token is left for Verify to refuse, after its size check; scanning
	// a megabyte header here would come before that check.
	tok := strings.Trim(rest, " \t")
	return tok, tok != ""
}
