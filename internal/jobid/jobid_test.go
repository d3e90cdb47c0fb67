package jobid

import (
	"crypto/rand"
	"strings"
	"testing"
)

// randomV7 returns a UUIDv7 as another library would make it: random bits, unsealed.
func randomV7() [16]byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return b
}

func TestSealedIDsAreKnownAndOthersAreNot(t *testing.T) {
	t.Parallel()
	const n = 200000
	chance := 0
	for range n {
		b := randomV7()
		other := Text(&b)
		if Sealed(other) {
			chance++
		}
		Seal(&b)
		id := Text(&b)
		if !Sealed(id) {
			t.Fatalf("sealed ID %q is not Sealed", id)
		}
		if id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("sealed ID %q is no longer a UUIDv7", id)
		}
		// Any one byte changed breaks the seal, and so does the upper-case form of the ID.
		for _, i := range []int{0, 7, 13} {
			c := b
			c[i] ^= 0x10
			if Sealed(Text(&c)) {
				t.Fatalf("ID %q with byte %d changed is still sealed", id, i)
			}
		}
		if up := strings.ToUpper(id); up != id && Sealed(up) {
			t.Fatalf("upper-case %q is sealed", up)
		}
	}
	// One in 65,536 by chance: about 3 of 200,000; 20 would mean the check is weak.
	if chance > 20 {
		t.Errorf("%d of %d random UUIDv7s look sealed; want about %d", chance, n, n/65536)
	}
}

// check is the standard CRC-16/CCITT-FALSE, whose check value is 0x29b1.
func TestCheckIsCRC16CCITT(t *testing.T) {
	t.Parallel()
	if got := check([]byte("123456789")); got != 0x29b1 {
		t.Fatalf("check of 123456789 = %#04x, want 0x29b1", got)
	}
}

func TestSealedRefusesOtherShapes(t *testing.T) {
	t.Parallel()
	var b [16]byte
	b[6], b[8] = 0x70, 0x80
	Seal(&b)
	id := Text(&b)
	if !Sealed(id) {
		t.Fatalf("%q is not sealed", id)
	}
	for _, bad := range []string{
		"", "job-1", id[:35], id + "0",
		strings.Replace(id, "-", "x", 1),         // a dash replaced
		id[:14] + "4" + id[15:],                  // version 4
		id[:24] + "g" + id[25:],                  // not hex
		strings.ReplaceAll(id, "-", "") + "0000", // 36 bytes, no dashes
	} {
		if Sealed(bad) {
			t.Errorf("Sealed(%q) = true", bad)
		}
	}
}
