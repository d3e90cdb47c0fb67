package backend

import (
	"fmt"
	"strconv"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// ParseSequenceCursor reads the event cursor of a store whose cursors are sequence numbers in
// canonical decimal: "" (before every event) or a non-negative number without sign or leading
// zeros. Anything else is refused with asyncmqtype.ErrInvalid.
func ParseSequenceCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 || (len(c) > 1 && c[0] == '0') || c[0] == '+' {
		return 0, fmt.Errorf("read events after cursor %q: not a cursor of this store: %w", c, asyncmqtype.ErrInvalid)
	}
	return n, nil
}
