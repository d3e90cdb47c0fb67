// Package jobid seals the job IDs asyncmq makes, so that a store can tell an ID asyncmq may have
// made from one it cannot have made, without looking it up.
//
// asyncmq.NewID makes UUIDv7 IDs. Seal sets the last 16 of its random bits to a check of the 14
// bytes before them; Sealed recomputes the check from an ID's text. An ID asyncmq made is always
// sealed; any other UUIDv7 is sealed by chance once in 65,536. The check is not a secret and
// proves nothing about who made an ID: it lets the Redis store leave the IDs of its plain
// enqueues out of its index of job IDs, and look an unsealed ID up there alone (see
// backend/redis).
package jobid

import "encoding/hex"

// Seal writes the check of b[0:14] into b[14:16].
func Seal(b *[16]byte) {
	c := check(b[:14])
	b[14], b[15] = byte(c>>8), byte(c)
}

// check is the CRC-16/CCITT-FALSE of p: any change of p confined to 16 bits in a row changes it.
func check(p []byte) uint16 {
	c := uint16(0xffff)
	for _, x := range p {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return c
}

// crcTable is the CRC of each byte value, for check.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Sealed reports whether id is the canonical lowercase text of a sealed UUID of version 7: the
// form every ID asyncmq.NewID returns has. It does not check the variant bits, which the check
// covers.
func Sealed(id string) bool {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' || id[14] != '7' {
		return false
	}
	var b [16]byte
	bad := byte(0)
	for j, i := range hexAt {
		hi, lo := unhex[id[i]], unhex[id[i+1]]
		bad |= hi | lo
		b[j] = hi<<4 | lo&0x0f
	}
	if bad&0xf0 != 0 {
		return false
	}
	return uint16(b[14])<<8|uint16(b[15]) == check(b[:14])
}

// hexAt is where each byte of a UUID starts in its text.
var hexAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// unhex is the value of each lowercase hex digit, and 0xff for every other byte.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

// Text returns b's canonical lowercase UUID text.
func Text(b *[16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
