package redis

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// A record holds every string length MessagePack has a header for, and reads back as written.
func TestRecordRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536, 200_000} {
		f := []any{"t", "task", "ca", "1700000000000000", "p", strings.Repeat("x", n)}
		for len(f) < 20 { // past the 15 fields a one-byte array header counts
			f = append(f, "bo", "{}")
		}
		got, err := unpackRecord(packRecord(f))
		if err != nil {
			t.Fatalf("payload of %d bytes: %v", n, err)
		}
		want := make([]string, len(f))
		for i, x := range f {
			want[i] = x.(string)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("payload of %d bytes: read back %d strings, want %d", n, len(got), len(want))
		}
		if task, payload := recordTaskPayload(packRecord(f)); task != "task" || len(payload) != n {
			t.Fatalf("payload of %d bytes: task %q, payload of %d bytes", n, task, len(payload))
		}
	}
}

// A damaged record is an error, never a panic or a read past its end.
func TestRecordDamaged(t *testing.T) {
	good := packRecord([]any{"t", "task", "ca", "1", "p", strings.Repeat("y", 300)})
	for _, bad := range []string{
		"",
		good[:len(good)-1],             // cut short
		good + "z",                     // trailing byte
		"\x91\xa1t",                    // an odd number of strings
		"\x92\xc1\xa1t",                // a type byte that is not a string
		"\x81\xa1t\xa1v",               // a map, not an array
		"\x92\xdb\xff\xff\xff",         // a length header cut short
		"\x92\xdb\x7f\xff\xff\xff\xa0", // a length past the end
		"\x92\xdb\xff\xff\xff\xff\xa0", // one past what a 32-bit int holds
	} {
		if _, err := unpackRecord(bad); !errors.Is(err, errRecord) {
			t.Errorf("unpackRecord(%q) = %v, want errRecord", bad, err)
		}
	}
}

func FuzzUnpackRecord(f *testing.F) {
	f.Add(packRecord([]any{"t", "task", "ca", "1"}))
	f.Add("\xdc\x00\x02\xd9\x01a\xda\x00\x01b")
	f.Fuzz(func(t *testing.T, rec string) {
		got, err := unpackRecord(rec)
		if err != nil {
			return
		}
		args := make([]any, len(got))
		for i, s := range got {
			args[i] = s
		}
		again, err := unpackRecord(packRecord(args))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("record %q read as %q, repacked as %q (%v)", rec, got, again, err)
		}
	})
}

// packRecord encodes a field-value list f (strings) as a record, as the plain enqueue
// (appendPlainRecord) and the scripts (cmsgpack.pack) do.
func packRecord(f []any) string {
	n := 5
	for _, x := range f {
		n += len(x.(string)) + 5
	}
	b := appendArrayHeader(make([]byte, 0, n), len(f))
	for _, x := range f {
		b = appendStr(b, x.(string))
	}
	return string(b)
}
