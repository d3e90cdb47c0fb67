// Package redact hides credentials in values that end up in errors and logs.
package redact

import (
	"net/url"
	"strings"
)

// secretParams are substrings of query parameter names whose values are credentials
// (password=, sslpassword=, api_key=, access_token=, X-Amz-Signature=, ...).
var secretParams = []string{"pass", "secret", "token", "key", "auth", "sig", "credential"}

// URL returns raw with the password of its user info, and the values of query parameters whose
// names suggest a credential, replaced by "xxxxx", so that errors, logs and reports never carry
// them. A URL that does not parse keeps nothing of its user info or its query.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		out := raw
		if _, ok := u.User.Password(); ok {
			out = u.Redacted()
		}
		if u.RawQuery == "" {
			return out
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "xxxxx"
			return redactedString(u)
		}
		hidden := false
		for name, vs := range q {
			if isSecretParam(name) {
				for i := range vs {
					vs[i] = "xxxxx"
				}
				hidden = true
			}
		}
		if !hidden {
			return out
		}
		u.RawQuery = q.Encode()
		return redactedString(u)
	}
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		// The user info ends at the last "@": a password may itself hold one.
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			rest = "xxxxx@" + rest[i+1:]
		}
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			rest = rest[:i] + "?xxxxx"
		}
		return scheme + "://" + rest
	}
	return raw
}

func redactedString(u *url.URL) string {
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	return u.String()
}

func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretParams {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
