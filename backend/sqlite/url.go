package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// Importing the package makes "sqlite://" and "sqlite3://" URLs openable with backend.Open (and
// so with asyncmq.Open and the CLI's --backend).
func init() {
	backend.Register("sqlite", openURL)
	backend.Register("sqlite3", openURL)
}

// acceptedURLs is shown in errors about a URL this package does not understand.
const acceptedURLs = `"sqlite://<path>" (sqlite://asyncmq.db relative, sqlite:///var/lib/asyncmq.db absolute)`

// openURL opens the file a "sqlite://" URL names with Open and default options.
func openURL(ctx context.Context, url string) (backend.Store, error) {
	path, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	b, err := Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open backend %q: %w", redact.URL(url), err)
	}
	return b, nil
}

// PathFromURL returns the file path of a "sqlite://" (or "sqlite3://") URL exactly as opening it
// reads it, and false for any other or malformed URL. Tools that keep more data beside the
// queue's file use it.
func PathFromURL(url string) (string, bool) {
	path, err := parseURL(url)
	return path, err == nil
}

// parseURL returns the file path of a "sqlite://<path>" URL. The path is taken literally (no
// percent-decoding), as users type file names rather than URLs: "sqlite://asyncmq.db" is
// relative to the working directory, "sqlite:///var/lib/asyncmq.db" absolute. An empty path, a
// query string or fragment, a control character, or user information (user:password@) is an error wrapping asyncmqtype.ErrInvalid
// that names the URL (password hidden).
func parseURL(url string) (string, error) {
	invalid := func(problem string) error {
		// The URL may carry a password: errors show it redacted.
		return fmt.Errorf("backend URL %q: %s; want %s: %w", redact.URL(url), problem, acceptedURLs, asyncmqtype.ErrInvalid)
	}
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok || scheme == "" {
		return "", invalid("no scheme")
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
	default:
		return "", invalid(fmt.Sprintf("scheme %q is not sqlite", scheme))
	}
	if rest == "" {
		return "", invalid("no file path")
	}
	if strings.ContainsAny(rest, "?#") {
		return "", invalid("query strings and fragments are not supported")
	}
	for _, r := range rest {
		if r < 0x20 || r == 0x7f {
			return "", invalid("the path contains a control character")
		}
	}
	// A file has no user or password; "user:secret@" would otherwise become part of the path and
	// show up, password included, in every error that names the file.
	if first, _, _ := strings.Cut(rest, "/"); strings.Contains(first, "@") && strings.Contains(first, ":") {
		return "", invalid("a SQLite URL takes no user or password")
	}
	return rest, nil
}
