package asyncmq

import (
	"context"
	"fmt"

	"github.com/asyncmq/asyncmq/backend"
)

// DefaultBackendURL is the store the asyncmq command uses without --backend: a SQLite file
// asyncmq.db in the working directory.
const DefaultBackendURL = "sqlite://asyncmq.db"

// Store is an open job store: what Open returns and what NewClient, NewWorker and NewInspector
// take. Its methods are the storage seam (package backend), which applications do not call
// directly.
type Store = backend.Store

// Open opens the store named by url, through the store package registered for its scheme. The
// root package links no store: a program imports the ones it uses, for their side effect,
//
//	import _ "github.com/asyncmq/asyncmq/backend/sqlite" // sqlite://asyncmq.db, sqlite:///var/lib/q.db
//	import _ "github.com/asyncmq/asyncmq/backend/memory" // memory://
//
// or backend/all for every store asyncmq ships. A malformed URL, an unknown scheme, or a store
// whose package is not linked is an error wrapping asyncmqtype.ErrInvalid that names the URL
// (password hidden) and what is wrong. The caller closes the returned store.
func Open(ctx context.Context, url string) (Store, error) {
	s, err := backend.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}
