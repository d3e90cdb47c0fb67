package redis

import (
	"errors"
	"fmt"
	"iter"
	"strconv"
)

// Packed jobs. A job stored waiting, without a unique key, is not given a hash of its own: its
// fields go, as one record, into the queue's packed hash (qkeys.packed), keyed by its ID. A key
// per job was most of the Redis time of an enqueue (a new key, its hash and seven field
// insertions); a field of one hash is a fraction of that.
//
// A claim leaves the record where it is: the job's new hash gets the fields the claim sets and
// the two finish reads, and the record's other fields count where the hash lacks them
// (decodeJob). Every other script that changes the job (a cancel, a retry, a release, a child
// naming it as parent) first moves what the record holds into the hash (jkey in prelude.lua),
// and from then on the job is as every other. Deleting the job deletes both. Readers look in
// both places, in one read-only script call per job (readScript in jobs.go).
//
// A record is a MessagePack array of strings, field then value, as HGETALL answers, whose first
// fields are 't' and 'ca' (the claim reads them without decoding the rest); the scripts decode
// it with cmsgpack, which Redis bundles, and build it with cmsgpack.pack.

// appendArrayHeader appends the header of a MessagePack array of n elements.
func appendArrayHeader(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x90|byte(n))
	}
	return append(b, 0xdc, byte(n>>8), byte(n))
}

// appendStr appends v as a MessagePack string.
func appendStr[T ~string | ~[]byte](b []byte, v T) []byte {
	switch l := len(v); {
	case l < 32:
		b = append(b, 0xa0|byte(l))
	case l < 1<<8:
		b = append(b, 0xd9, byte(l))
	case l < 1<<16:
		b = append(b, 0xda, byte(l>>8), byte(l))
	default:
		b = append(b, 0xdb, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	return append(b, v...)
}

// appendIntStr appends n in decimal as a MessagePack string.
func appendIntStr(b []byte, n int64) []byte {
	var tmp [20]byte
	return appendStr(b, strconv.AppendInt(tmp[:0], n, 10))
}

var errRecord = errors.New("malformed packed job record")

// unpackRecord decodes a record into its strings, field then value.
func unpackRecord(rec string) ([]string, error) {
	n, i, err := mpLen(rec, 0, true)
	if err != nil {
		return nil, err
	}
	if n > len(rec)-i { // each string takes a byte at least
		return nil, errRecord
	}
	out := make([]string, 0, n)
	for range n {
		var l int
		if l, i, err = mpLen(rec, i, false); err != nil {
			return nil, err
		}
		if l > len(rec)-i {
			return nil, errRecord
		}
		out = append(out, rec[i:i+l])
		i += l
	}
	if i != len(rec) || n%2 != 0 {
		return nil, errRecord
	}
	return out, nil
}

// mpLen reads the header at s[i] of an array (array) or of a string or byte string: its length,
// and where its content starts.
func mpLen(s string, i int, array bool) (int, int, error) {
	if i >= len(s) {
		return 0, 0, errRecord
	}
	c := s[i]
	size := 0
	switch {
	case array && c&0xf0 == 0x90:
		return int(c & 0x0f), i + 1, nil
	case !array && c&0xe0 == 0xa0:
		return int(c & 0x1f), i + 1, nil
	case array && c == 0xdc, !array && (c == 0xda || c == 0xc5):
		size = 2
	case array && c == 0xdd, !array && (c == 0xdb || c == 0xc6):
		size = 4
	case !array && (c == 0xd9 || c == 0xc4):
		size = 1
	default:
		return 0, 0, fmt.Errorf("%w: type byte 0x%02x", errRecord, c)
	}
	if i+1+size > len(s) {
		return 0, 0, errRecord
	}
	var n uint64
	for k := range size {
		n = n<<8 | uint64(s[i+1+k])
	}
	if n > uint64(len(s)) { // also keeps n from wrapping negative where int has 32 bits
		return 0, 0, errRecord
	}
	return int(n), i + 1 + size, nil
}

// recordTaskPayload returns the task and payload of a record ("" for a malformed one).
func recordTaskPayload(rec string) (task, payload string) {
	f, _ := unpackRecord(rec)
	for i := 0; i+1 < len(f); i += 2 {
		switch f[i] {
		case "t":
			task = f[i+1]
		case "p":
			payload = f[i+1]
		}
	}
	return task, payload
}

// withRecord reads a job's hash fields h and, when rec is not empty, its packed record as the
// field "rec", which decodeJob reads.
func withRecord(h iter.Seq2[string, string], rec string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for k, v := range h {
			if !yield(k, v) {
				return
			}
		}
		if rec != "" {
			yield("rec", rec)
		}
	}
}
