package asyncmqtype

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxQueueNameBytes is the longest queue name accepted.
const MaxQueueNameBytes = 200

// MaxPageSize is the largest page a job listing returns.
const MaxPageSize = 1000

// MinPriority and MaxPriority bound a job's Priority (lower runs first). The range is wide enough
// for any ordering scheme and small enough that every store keeps it exactly (a Redis sorted-set
// score is a float64, a PostgreSQL integer is 32 bits).
const (
	MinPriority = -1_000_000
	MaxPriority = 1_000_000
)

// MinTime and MaxTime bound every time a store keeps (run-at, unique-until, next run): stores
// keep times as Unix nanoseconds, which cover 1677-09-21 to 2262-04-11. A time outside is
// refused rather than silently moved to the edge.
var (
	MinTime = time.Unix(0, math.MinInt64+1).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

// ValidatePriority refuses a priority outside MinPriority..MaxPriority.
func ValidatePriority(p int) error {
	if p < MinPriority || p > MaxPriority {
		return invalid("priority %d is outside %d..%d", p, MinPriority, MaxPriority)
	}
	return nil
}

// ValidateTime refuses a time, named by what, that is not zero and falls outside
// MinTime..MaxTime (after the year 2262).
func ValidateTime(what string, t time.Time) error {
	if !t.IsZero() && (t.Before(MinTime) || t.After(MaxTime)) {
		return invalid("%s %s is outside the storable range %s..%s", what, t.Format(time.RFC3339), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalid)...)
}

// ValidateQueueName refuses names that cannot be stored and addressed safely: empty, longer than
// MaxQueueNameBytes, not UTF-8, containing a control character or a slash, or made only of dots
// ("." and ".." would be read as path segments in a URL, so the dashboard could not reach them).
func ValidateQueueName(name string) error {
	switch {
	case name == "":
		return invalid("empty queue name")
	case len(name) > MaxQueueNameBytes:
		return invalid("queue name of %d bytes is longer than %d", len(name), MaxQueueNameBytes)
	case !utf8.ValidString(name):
		return invalid("queue name %q is not UTF-8", name)
	case strings.Trim(name, ".") == "":
		return invalid("queue name %q is only dots", name)
	case strings.ContainsRune(name, '/'):
		return invalid("queue name %q contains a slash", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return invalid("queue name %q contains a control character", name)
		}
	}
	return nil
}

// Validate checks a listing: a queue, a known state, a known or empty sort, a Limit in
// 1..MaxPageSize and no negative Offset.
func (p ListJobsParams) Validate() error {
	f := p.Filter
	switch {
	case f.Queue == "":
		return invalid("list jobs: empty queue")
	case !f.State.Valid():
		return invalid("list jobs of queue %q: unknown state %q", f.Queue, f.State)
	case p.Sort != "" && p.Sort != SortNewest && p.Sort != SortOldest:
		return invalid("list jobs of queue %q: unknown sort %q", f.Queue, p.Sort)
	case p.Limit < 1 || p.Limit > MaxPageSize:
		return invalid("list jobs of queue %q: limit %d is outside 1..%d", f.Queue, p.Limit, MaxPageSize)
	case p.Offset < 0:
		return invalid("list jobs of queue %q: negative offset %d", f.Queue, p.Offset)
	}
	return nil
}

// Validate checks a bulk action: a known action, a known or empty state, and IDs or a queue.
func (p ApplyParams) Validate() error {
	switch {
	case p.Action != ActionRetry && p.Action != ActionRemove && p.Action != ActionCancel && p.Action != ActionPromote:
		return invalid("apply job action: unknown action %q", p.Action)
	case p.Filter.State != "" && !p.Filter.State.Valid():
		return invalid("%s jobs: unknown state %q", p.Action, p.Filter.State)
	case len(p.IDs) == 0 && p.Filter.Queue == "":
		return invalid("%s jobs: neither IDs nor a queue given", p.Action)
	}
	return nil
}

// Validate checks an audit listing: no negative Limit or Offset.
func (p AuditParams) Validate() error {
	if p.Limit < 0 || p.Offset < 0 {
		return invalid("list audit entries: negative limit %d or offset %d", p.Limit, p.Offset)
	}
	return nil
}

// Validate checks a read of the newest events: a Limit in 1..MaxPageSize.
func (p RecentEventsParams) Validate() error {
	if p.Limit < 1 || p.Limit > MaxPageSize {
		return invalid("read recent events: limit %d is outside 1..%d", p.Limit, MaxPageSize)
	}
	return nil
}

// Validate checks an event read: no negative Limit.
func (p EventsParams) Validate() error {
	if p.Limit < 0 {
		return invalid("read events: negative limit %d", p.Limit)
	}
	return nil
}
