package asyncmq

import (
	"context"
	"fmt"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
	redisstore "github.com/asyncmq/asyncmq/backend/redis"
	"github.com/asyncmq/asyncmq/backend/sqlite"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// DefaultBackendURL is the store the asyncmq command uses without --backend: a SQLite file
// asyncmq.db in the working directory.
const DefaultBackendURL = "sqlite://asyncmq.db"

// supportedURLs is shown in errors about a URL Open does not understand.
const supportedURLs = `"memory://" or "sqlite://<path>" (sqlite://asyncmq.db relative, sqlite:///var/lib/asyncmq.db absolute), or Redis: "redis://host:port/db", "rediss://...", "redis+cluster://host1:port,host2:port", "redis+sentinel://host:26379/master/db"`

// Open opens the store named by url:
//
//   - "memory://": a new, empty in-process store (backend/memory), lost when the process exits.
//   - "sqlite://<path>": the SQLite file at path (backend/sqlite), created if missing.
//     "sqlite://asyncmq.db" is relative to the working directory, "sqlite:///var/lib/asyncmq.db"
//     absolute.
//   - "redis://[user:pass@]host:port/db", "rediss://" (TLS), "redis+cluster://host1:port,host2:port"
//     (Redis Cluster from seed nodes), "redis+sentinel://host:26379,host2:26379/master/db": Redis 7
//     or later (backend/redis; see redis.Open for the query options such as prefix=).
//
// A malformed URL, an unknown scheme, or a store that is planned but not yet supported
// ("postgres://") is an error wrapping asyncmqtype.ErrInvalid that names the URL and says
// what is wrong. The caller closes the returned store.
func Open(ctx context.Context, url string) (backend.Backend, error) {
	kind, path, err := parseBackendURL(url)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "memory":
		return memory.New(), nil
	case "redis":
		b, err := redisstore.Open(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("open backend %q: %w", redact.URL(url), err)
		}
		return b, nil
	default:
		b, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open backend %q: %w", redact.URL(url), err)
		}
		return b, nil
	}
}

// parseBackendURL splits a backend URL into its kind and, for SQLite, the file path. The path is
// taken literally (no percent-decoding), as users type file names rather than URLs.
func parseBackendURL(url string) (kind, path string, err error) {
	invalid := func(format string, args ...any) error {
		// The URL may carry a password (postgres://user:pass@...): errors show it redacted.
		return fmt.Errorf("backend URL %q: %s; want %s: %w", redact.URL(url), fmt.Sprintf(format, args...), supportedURLs, asyncmqtype.ErrInvalid)
	}
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok || scheme == "" {
		return "", "", invalid("no scheme")
	}
	switch strings.ToLower(scheme) {
	case "memory":
		if rest != "" {
			return "", "", invalid("memory:// takes nothing after the scheme")
		}
		return "memory", "", nil
	case "sqlite", "sqlite3":
		if rest == "" {
			return "", "", invalid("no file path")
		}
		if strings.ContainsAny(rest, "?#") {
			return "", "", invalid("query strings and fragments are not supported")
		}
		for _, r := range rest {
			if r < 0x20 || r == 0x7f {
				return "", "", invalid("the path contains a control character")
			}
		}
		return "sqlite", rest, nil
	case "redis", "rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel":
		return "redis", "", nil
	case "postgres", "postgresql":
		return "", "", invalid("the %s backend is not yet supported", strings.ToLower(scheme))
	default:
		return "", "", invalid("unknown scheme %q", scheme)
	}
}

// SQLitePath returns the file path of a "sqlite://" URL exactly as Open reads it, and false for
// any other or malformed URL. Tools that keep more data beside the queue's file use it.
func SQLitePath(url string) (string, bool) {
	kind, path, err := parseBackendURL(url)
	if err != nil || kind != "sqlite" {
		return "", false
	}
	return path, true
}
