package backend

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// OpenFunc opens the store a URL names. It receives the whole URL, scheme included, and returns
// errors that never show the URL's password.
type OpenFunc func(ctx context.Context, url string) (Store, error)

var registry struct {
	mu    sync.RWMutex
	opens map[string]OpenFunc
}

// storePackages names the package that registers each scheme asyncmq ships, for the error that
// tells a program which import it is missing.
var storePackages = map[string]string{
	"memory":     "github.com/asyncmq/asyncmq/backend/memory",
	"sqlite":     "github.com/asyncmq/asyncmq/backend/sqlite",
	"sqlite3":    "github.com/asyncmq/asyncmq/backend/sqlite",
	"postgres":   "github.com/asyncmq/asyncmq/backend/postgres",
	"postgresql": "github.com/asyncmq/asyncmq/backend/postgres",
	"redis":      "github.com/asyncmq/asyncmq/backend/redis",
	"rediss":     "github.com/asyncmq/asyncmq/backend/redis",
	// Redis Cluster and Sentinel.
	"redis+cluster":   "github.com/asyncmq/asyncmq/backend/redis",
	"rediss+cluster":  "github.com/asyncmq/asyncmq/backend/redis",
	"redis+sentinel":  "github.com/asyncmq/asyncmq/backend/redis",
	"rediss+sentinel": "github.com/asyncmq/asyncmq/backend/redis",
}

// Register makes a store openable by URL scheme (lower case, without "://"). Store packages call
// it from init, so a program links only the stores it imports. It panics when the scheme is
// empty or already registered, or open is nil: those are programming errors.
func Register(scheme string, open OpenFunc) {
	if scheme == "" || scheme != strings.ToLower(scheme) || strings.Contains(scheme, ":") || open == nil {
		panic(fmt.Sprintf("backend.Register: invalid scheme %q or nil open func", scheme))
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.opens == nil {
		registry.opens = make(map[string]OpenFunc)
	}
	if _, dup := registry.opens[scheme]; dup {
		panic(fmt.Sprintf("backend.Register: scheme %q registered twice", scheme))
	}
	registry.opens[scheme] = open
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	out := make([]string, 0, len(registry.opens))
	for s := range registry.opens {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open opens the store named by url with the OpenFunc registered for its scheme (matched without
// regard to case). A URL without a scheme, or with one no linked package registered, is an error
// wrapping asyncmqtype.ErrInvalid that names the URL (password hidden) and, for a store asyncmq
// ships, the package to import.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, _, ok := strings.Cut(url, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("backend URL %q: no scheme; want one of %s: %w", redact.URL(url), schemeList(), asyncmqtype.ErrInvalid)
	}
	scheme = strings.ToLower(scheme)
	registry.mu.RLock()
	open := registry.opens[scheme]
	registry.mu.RUnlock()
	if open == nil {
		if pkg, known := storePackages[scheme]; known {
			return nil, fmt.Errorf("backend URL %q: the %s store is not linked into this program; import _ %q (or backend/all): %w",
				redact.URL(url), scheme, pkg, asyncmqtype.ErrInvalid)
		}
		return nil, fmt.Errorf("backend URL %q: unknown scheme %q; want one of %s: %w", redact.URL(url), scheme, schemeList(), asyncmqtype.ErrInvalid)
	}
	return open(ctx, url)
}

func schemeList() string {
	s := Schemes()
	if len(s) == 0 {
		return "the schemes of the store packages you import (none is linked)"
	}
	return strings.Join(s, ", ")
}
