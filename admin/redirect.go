package admin

import (
	"net/url"
	"strings"
)

// maxNextLen bounds a return-to path.
const maxNextLen = 2048

// isSafeNext reports whether next is a same-origin path under base that every browser resolves
// to that same path. It refuses each form a browser might read as another host or another
// path: "//host" and "/\host"; schemes ("https:", "javascript:"); control characters, spaces
// and DEL (browsers strip TAB, CR and LF, turning "/\t/host" into "//host"); backslashes;
// non-ASCII bytes (they must arrive percent-encoded); encoded slashes, backslashes and controls
// in the path ("%2F", "%5C", "%09"); malformed escapes; empty, "." and ".." segments, escaped
// or not (browsers resolve "%2e%2e" as ".."); and anything longer than 2 KiB.
func isSafeNext(base, next string) bool {
	if next == "" || len(next) > maxNextLen || next[0] != '/' {
		return false
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return false
	}
	if !strings.HasPrefix(next, base+"/") {
		return false
	}
	inPath := true
	for i := 0; i < len(next); i++ {
		c := next[i]
		switch {
		case c <= 0x20 || c >= 0x7f || c == '\\':
			return false
		case c == '?' || c == '#':
			inPath = false
		case c == '%':
			if i+2 >= len(next) || !isHex(next[i+1]) || !isHex(next[i+2]) {
				return false
			}
			b := unhex(next[i+1])<<4 | unhex(next[i+2])
			if inPath && (b < 0x20 || b == 0x7f || b == '/' || b == '\\') {
				return false
			}
			i += 2
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	p := u.Path
	if !strings.HasPrefix(p, base+"/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || (seg == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
