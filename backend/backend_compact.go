package backend

import (
	"context"
	"time"
)

// Compactor is the optional space-reclaiming capability of a store. The maintenance leader
// calls Compact after each retention pass, so a store that holds data beyond its jobs (an event
// log) or keeps freed space (a SQLite file) gives it back in bounded steps.
type Compactor interface {
	// Compact drops what retention made useless and returns freed space, in steps that each
	// hold the store briefly; a call may leave work for the next one.
	Compact(ctx context.Context, p CompactParams) (CompactResult, error)
}

// CompactParams is the input of Compactor.Compact.
type CompactParams struct {
	Now time.Time
}

// CompactResult is what one Compact call did.
type CompactResult struct {
	// Events is how many events were deleted.
	Events int
	// Bytes is how many bytes of storage were given back (to the file system, for SQLite).
	Bytes int64
}
