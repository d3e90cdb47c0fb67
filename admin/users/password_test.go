package users_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin/users"
	"golang.org/x/crypto/bcrypt"
)

func TestHashPasswordUsesOWASPParameters(t *testing.T) {
	t.Parallel()
	h, err := users.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q, want argon2id with m=19456 (19 MiB), t=2, p=1", h)
	}
	ok, rehash, err := users.CheckPassword("correct horse battery", h)
	if !ok || rehash || err != nil {
		t.Errorf("CheckPassword(right) = %t, %t, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = users.CheckPassword("correct horse batterY", h)
	if ok || rehash || err != nil {
		t.Errorf("CheckPassword(wrong) = %t, %t, %v; want false, false, nil", ok, rehash, err)
	}
	h2, _ := users.HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestHasherParams(t *testing.T) {
	t.Parallel()
	light := users.Hasher{Params: users.HashParams{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	h, err := light.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %q, want the Hasher's parameters", h)
	}
	tests := []struct {
		name       string
		h          users.Hasher
		wantRehash bool
	}{
		{"same parameters", light, false},
		{"zero Hasher wants the defaults", users.Hasher{}, true},
	}
	for _, tt := range tests {
		ok, rehash, err := tt.h.Check("correct horse", h)
		if !ok || err != nil || rehash != tt.wantRehash {
			t.Errorf("%s: Check = %t, %t, %v; want true, %t, nil", tt.name, ok, rehash, err, tt.wantRehash)
		}
	}
	bad := users.Hasher{Params: users.HashParams{Memory: 1 << 20, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	if _, err := bad.Hash("correct horse"); err == nil {
		t.Error("Hash with 1 GiB of memory: want an error, Check would refuse such hashes")
	}
}

func TestHashPasswordLengthLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pw   string
		want error
	}{
		{"", users.ErrPasswordTooShort},
		{"seven77", users.ErrPasswordTooShort},
		{"ñññññññ", users.ErrPasswordTooShort}, // 7 characters, 14 bytes: counted in characters
		{strings.Repeat("x", users.MaxPasswordBytes+1), users.ErrPasswordTooLong},
	}
	for _, tt := range tests {
		if _, err := users.HashPassword(tt.pw); !errors.Is(err, tt.want) {
			t.Errorf("HashPassword(%d bytes) err = %v, want %v", len(tt.pw), err, tt.want)
		}
	}
}

func TestCheckPasswordRehashSignal(t *testing.T) {
	t.Parallel()
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, pw     string
		wantOK, wantRehash bool
	}{
		{"bcrypt match asks for argon2id", string(bc), "correct horse", true, true},
		{"bcrypt mismatch", string(bc), "wrong horse", false, false},
		{"weaker argon2id match asks for defaults", cheapHash(), "correct horse", true, true},
		{"weaker argon2id mismatch", cheapHash(), "wrong horse", false, false},
		{"over-long password is refused unhashed", cheapHash(), strings.Repeat("x", users.MaxPasswordBytes+1), false, false},
	}
	for _, tt := range tests {
		ok, rehash, err := users.CheckPassword(tt.pw, tt.hash)
		if err != nil || ok != tt.wantOK || rehash != tt.wantRehash {
			t.Errorf("%s: CheckPassword = %t, %t, %v; want %t, %t, nil", tt.name, ok, rehash, err, tt.wantOK, tt.wantRehash)
		}
	}
}

func TestCheckPasswordRefusesBadHashes(t *testing.T) {
	t.Parallel()
	salt, key := "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"zero passes would panic", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key},
		{"zero lanes would panic", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key},
		{"4 GiB of memory", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key},
		{"a million passes", "$argon2id$v=19$m=19456,t=1000000,p=1$" + salt + "$" + key},
		{"lanes overflow uint8", "$argon2id$v=19$m=19456,t=2,p=300$" + salt + "$" + key},
		{"wrong version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"bad base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!$" + key},
		{"missing part", "$argon2id$v=19$m=19456,t=2,p=1$" + salt},
		{"bcrypt cost 31", "$2a$31$" + strings.Repeat("a", 53)},
		{"truncated bcrypt", "$2b$10$abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, _, err := users.CheckPassword("correct horse", tt.hash)
			if ok || !errors.Is(err, users.ErrUnsupportedHash) {
				t.Errorf("CheckPassword = %t, %v; want false, ErrUnsupportedHash", ok, err)
			}
			if err := users.ValidateHash(tt.hash); !errors.Is(err, users.ErrUnsupportedHash) {
				t.Errorf("ValidateHash = %v, want ErrUnsupportedHash", err)
			}
		})
	}
}

// A stored hash is input the login path parses on every attempt; it must never panic or run
// away, whatever a tampered row holds.
func FuzzCheckPassword(f *testing.F) {
	f.Add("correct horse", cheapHash())
	f.Add("x", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("x", "$2a$04$"+strings.Repeat("a", 53))
	f.Add("x", "$argon2id$v=19$m=8,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, pw, hash string) {
		ok, _, err := users.CheckPassword(pw, hash)
		if ok && err != nil {
			t.Fatalf("CheckPassword = true with error %v", err)
		}
		if err != nil && !errors.Is(err, users.ErrUnsupportedHash) {
			t.Fatalf("CheckPassword error %v does not wrap ErrUnsupportedHash", err)
		}
	})
}
