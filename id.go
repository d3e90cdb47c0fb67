package asyncmq

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/jobid"
)

// MaxIDLength is the longest job, queue, task or repeatable ID accepted, in bytes.
const MaxIDLength = 128

// idGen hands out UUIDv7 IDs (RFC 9562). The 12 bits after the millisecond timestamp are a
// counter (the RFC's "method 1"), so IDs made by one process sort in creation order even within a
// millisecond; that keeps FIFO order among jobs of equal priority and run time.
var idGen struct {
	mu     sync.Mutex
	lastMS int64
	seq    uint16
}

// NewID returns a new time-ordered job ID: a UUIDv7 in its canonical lowercase text form, so IDs
// sort as text in creation order. The client calls it for every job enqueued without JobID.
// After the millisecond timestamp and a 12-bit counter come 46 random bits and a 16-bit check of
// the bits before it (internal/jobid), so that a store can tell the IDs NewID makes from almost
// every other ID without looking them up.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		// crypto/rand never fails on supported platforms (it panics itself); keep the contract
		// explicit anyway.
		panic(fmt.Sprintf("asyncmq: read random bytes: %v", err))
	}

	ms := time.Now().UnixMilli()
	idGen.mu.Lock()
	if ms <= idGen.lastMS {
		// Same millisecond, or the clock stepped back: stay on the last timestamp and count up so
		// IDs keep increasing. When the counter wraps, borrow the next millisecond.
		ms = idGen.lastMS
		idGen.seq++
		if idGen.seq > 0x0fff {
			ms++
			idGen.seq = 0
		}
	} else {
		// Start the counter at a random point in its lower half so that IDs are not guessable
		// from one another yet leave room to count.
		idGen.seq = binary.BigEndian.Uint16(b[6:8]) & 0x07ff
	}
	idGen.lastMS = ms
	seq := idGen.seq
	idGen.mu.Unlock()

	b[0] = byte(ms >> 40)
	b[1] = byte(ms >> 32)
	b[2] = byte(ms >> 24)
	b[3] = byte(ms >> 16)
	b[4] = byte(ms >> 8)
	b[5] = byte(ms)
	b[6] = 0x70 | byte(seq>>8)
	b[7] = byte(seq)
	b[8] = 0x80 | b[8]&0x3f

	jobid.Seal(&b)
	return jobid.Text(&b)
}

// validateName checks a caller-supplied identifier (a job ID, a queue or task name, a repeatable
// ID): non-empty, at most MaxIDLength bytes, valid UTF-8, printable and without whitespace, so it
// is safe to show in logs, URLs and tables. what names the kind of identifier in the error.
func validateName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty: %w", what, asyncmqtype.ErrInvalid)
	}
	if len(s) > MaxIDLength {
		return fmt.Errorf("%s %.20q... is %d bytes, longer than %d: %w", what, s, len(s), MaxIDLength, asyncmqtype.ErrInvalid)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8: %w", what, s, asyncmqtype.ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return fmt.Errorf("%s %q contains whitespace: %w", what, s, asyncmqtype.ErrInvalid)
		}
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s %q contains the non-printable character %U: %w", what, s, r, asyncmqtype.ErrInvalid)
		}
	}
	return nil
}
