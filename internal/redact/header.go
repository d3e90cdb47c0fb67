package redact

import "strings"

// Redacted is what a hidden value is shown as.
const Redacted = "xxxxx"

// secretHeaderParts are substrings of header names, lowercased with '_' and '.' read as '-',
// whose values are credentials: Authorization, Proxy-Authorization, Cookie, X-Auth-Token,
// X-API-Key, client_secret, db.password, Session-ID, X-Amz-Signature, ...
var secretHeaderParts = []string{
	"auth", "cookie", "token", "secret", "passw", "pwd", "credential", "session", "signature",
	"api-key", "apikey", "private-key", "access-key",
}

// IsSecretHeader reports whether a job header named name probably holds a credential, so that
// the CLI, the dashboard and the JSON API show its value as Redacted. The rule errs on the side of
// hiding: "Author" is hidden too, while the trace headers (traceparent, tracestate, baggage)
// are shown.
func IsSecretHeader(name string) bool {
	n := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name))
	for _, s := range secretHeaderParts {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Headers returns a copy of h with the values of secret-looking names (IsSecretHeader) replaced
// by Redacted, or nil when h is empty.
func Headers(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if IsSecretHeader(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}
