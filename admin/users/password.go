package users

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/bcrypt"
)

// Password length limits. MaxPasswordBytes bounds the work an unauthenticated client can ask the
// server to hash; it is far above any passphrase a person types.
const (
	MinPasswordLen   = 8 // characters (ASVS 5.0 6.2.1)
	MaxPasswordBytes = 1024
)

var (
	// ErrPasswordTooShort is returned by Hash for a password under MinPasswordLen characters.
	ErrPasswordTooShort = fmt.Errorf("password is shorter than %d characters", MinPasswordLen)
	// ErrPasswordTooLong is returned by Hash for a password over MaxPasswordBytes bytes.
	ErrPasswordTooLong = fmt.Errorf("password is longer than %d bytes", MaxPasswordBytes)
	// ErrUnsupportedHash is returned by Check and Store.SetPassword for a value that is neither a
	// well-formed argon2id hash within the limits Check accepts nor a bcrypt hash.
	ErrUnsupportedHash = errors.New("unsupported password hash")
)

// HashParams are argon2id parameters.
type HashParams struct {
	// Memory is in KiB.
	Memory      uint32
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// DefaultHashParams are the OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, two
// passes, one lane, a 16-byte salt and a 32-byte key. Parallelism is fixed at 1 (not the CPU
// count) so that a hash verifies at the same cost on every host. One verification takes about
// 30 ms of one core.
var DefaultHashParams = HashParams{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// hashLimits bound the parameters Check accepts from a stored hash, so that a tampered or
// hostile row cannot make one login allocate gigabytes or spin for minutes.
var hashLimits = HashParams{Memory: 256 * 1024, Iterations: 16, Parallelism: 16, SaltLength: 64, KeyLength: 64}

// Hasher hashes and checks passwords with fixed argon2id parameters. The zero Hasher uses
// DefaultHashParams.
type Hasher struct {
	// Params are the argon2id parameters of new hashes, and the ones Check compares a stored
	// hash against to ask for a rehash. Zero means DefaultHashParams.
	Params HashParams
}

func (h Hasher) params() HashParams {
	if h.Params == (HashParams{}) {
		return DefaultHashParams
	}
	return h.Params
}

// HashPassword is Hasher{}.Hash: an argon2id hash of password with DefaultHashParams.
func HashPassword(password string) (string, error) { return Hasher{}.Hash(password) }

// CheckPassword is Hasher{}.Check.
func CheckPassword(password, hash string) (ok, needsRehash bool, err error) {
	return Hasher{}.Check(password, hash)
}

// Hash returns an argon2id hash of password in PHC string format
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$key"). Passwords shorter than MinPasswordLen characters
// or longer than MaxPasswordBytes are refused, as are parameters beyond the limits Check accepts.
func (h Hasher) Hash(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return "", ErrPasswordTooShort
	}
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	p := h.params()
	if err := checkParams(p); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	hash, err := argon2id.CreateHash(password, &argon2id.Params{
		Memory: p.Memory, Iterations: p.Iterations, Parallelism: p.Parallelism,
		SaltLength: p.SaltLength, KeyLength: p.KeyLength,
	})
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Check reports whether password matches hash, an argon2id hash in PHC format or a bcrypt hash
// ($2a$, $2b$, $2y$). The comparison is constant-time. needsRehash is true after a match when
// the hash is bcrypt or its argon2id parameters differ from the Hasher's: the caller should then
// store a fresh Hash result. A hash that cannot be parsed, or whose argon2id parameters exceed
// sane limits (256 MiB, 16 passes, 16 lanes) or whose bcrypt cost exceeds 15, returns an error
// wrapping ErrUnsupportedHash.
func (h Hasher) Check(password, hash string) (ok, needsRehash bool, err error) {
	if len(password) > MaxPasswordBytes {
		// Nothing this long was ever hashed by Hash; refuse without spending CPU on it.
		return false, false, nil
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon2id(hash)
		if err != nil {
			return false, false, err
		}
		match, _, err := argon2id.CheckHash(password, hash)
		if err != nil {
			return false, false, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
		}
		return match, match && p != h.params(), nil
	case isBcrypt(hash):
		if err := checkBcrypt(hash); err != nil {
			return false, false, err
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword), errors.Is(err, bcrypt.ErrPasswordTooLong):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
		}
	}
	return false, false, ErrUnsupportedHash
}

// ValidateHash reports whether hash is a password hash CheckPassword can verify.
func ValidateHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon2id(hash)
		return err
	case isBcrypt(hash):
		return checkBcrypt(hash)
	}
	return ErrUnsupportedHash
}

// maxBcryptCost bounds the bcrypt cost CheckPassword accepts: each step doubles the work, and
// cost 31 would take hours per login.
const maxBcryptCost = 15

func checkBcrypt(hash string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
	}
	if cost > maxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d above %d", ErrUnsupportedHash, cost, maxBcryptCost)
	}
	return nil
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

func parseArgon2id(hash string) (HashParams, error) {
	ap, _, _, err := argon2id.DecodeHash(hash)
	if err != nil {
		return HashParams{}, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
	}
	p := HashParams{Memory: ap.Memory, Iterations: ap.Iterations, Parallelism: ap.Parallelism,
		SaltLength: ap.SaltLength, KeyLength: ap.KeyLength}
	if err := checkParams(p); err != nil {
		return HashParams{}, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
	}
	return p, nil
}

// checkParams refuses parameters that would make argon2 panic (zero passes or lanes) or cost more
// than hashLimits allows.
func checkParams(p HashParams) error {
	switch {
	case p.Iterations < 1 || p.Iterations > hashLimits.Iterations:
		return fmt.Errorf("argon2id iterations %d outside 1..%d", p.Iterations, hashLimits.Iterations)
	case p.Parallelism < 1 || p.Parallelism > hashLimits.Parallelism:
		return fmt.Errorf("argon2id parallelism %d outside 1..%d", p.Parallelism, hashLimits.Parallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > hashLimits.Memory:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Parallelism), hashLimits.Memory)
	case p.SaltLength < 8 || p.SaltLength > hashLimits.SaltLength:
		return fmt.Errorf("argon2id salt length %d outside 8..%d", p.SaltLength, hashLimits.SaltLength)
	case p.KeyLength < 16 || p.KeyLength > hashLimits.KeyLength:
		return fmt.Errorf("argon2id key length %d outside 16..%d", p.KeyLength, hashLimits.KeyLength)
	}
	return nil
}
