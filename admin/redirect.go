package admin

import (
	"net/url"
	"strings"
)

// maxNextLen bounds a return-to path.
const maxNextLen = 2048

// isSafeNext reports whether next is a same-origin path under base. It refuses every form a browser
// might resolve to another host: "//host", "/\host", schemes, control characters and spaces (which
// browsers strip, turning "/\t/host" into "//host"), backslashes, and encoded slashes.
func isSafeNext(base, next string) bool {
	if next == "" || len(next) > maxNextLen || next[0] != '/' {
		return false
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return false
	}
	for i := 0; i < len(next); i++ {
		c := next[i]
		if c <= 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	lower := strings.ToLower(next)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%09") ||
		strings.Contains(lower, "%0a") || strings.Contains(lower, "%0d") || strings.Contains(lower, "%00") {
		return false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	p := u.Path
	if strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/./") {
		return false
	}
	if base == "" {
		return true
	}
	return p == base || strings.HasPrefix(p, base+"/")
}
