// Package redact hides credentials in values that end up in errors and logs.
package redact

import (
	"net/url"
	"strings"
)

// URL returns raw with the password of its user info replaced by "xxxxx", so that errors,
// logs and reports never carry it. A URL that does not parse keeps nothing of its user info.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return raw
	}
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		// The user info ends at the last "@": a password may itself hold one.
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			return scheme + "://xxxxx@" + rest[i+1:]
		}
	}
	return raw
}
