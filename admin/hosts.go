package admin

import (
	"net/netip"
	"strings"
)

// msgMisdirected is the body of the answer to a Host that is not allowed. It does not echo the
// Host, which the client chose.
const msgMisdirected = "Misdirected request: this dashboard does not answer to that host name"

// hostList is a parsed Config.AllowedHosts.
type hostList struct {
	// any turns the check off ("*").
	any bool
	// entries are lower-case host names or IP addresses (IPv6 without brackets), each with the
	// port it is limited to, or "" for any port.
	entries []hostEntry
}

type hostEntry struct{ host, port string }

// parseAllowedHosts validates Config.AllowedHosts. It reports false for an entry that is not a
// host name, an IP address or one of those with a port.
func parseAllowedHosts(list []string) (*hostList, string, bool) {
	l := &hostList{}
	for _, raw := range list {
		e := strings.TrimSpace(raw)
		if e == "*" {
			l.any = true
			continue
		}
		host, port := splitHostPort(e)
		host = normalHost(host)
		if host == "" || (port != "" && !isPort(port)) || !validHostName(host) {
			return nil, raw, false
		}
		l.entries = append(l.entries, hostEntry{host, port})
	}
	return l, "", true
}

// allows reports whether a Host value ("name", "name:port", "[v6]:port") is served: a loopback
// name, which DNS rebinding cannot produce since the attacker's name is in the Host header, or
// a configured one.
func (l *hostList) allows(hostport string) bool {
	if l.any {
		return true
	}
	host, port := splitHostPort(hostport)
	if port != "" && !isPort(port) {
		return false
	}
	host = normalHost(host)
	if host == "" {
		return false
	}
	if isLoopbackName(host) {
		return true
	}
	for _, e := range l.entries {
		if e.host == host && (e.port == "" || e.port == port) {
			return true
		}
	}
	return false
}

// normalHost lower-cases a host, removes IPv6 brackets and one trailing dot ("example.com."
// names the same host as "example.com").
func normalHost(h string) string {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// isLoopbackName reports whether host always means this machine: "localhost", a name under
// ".localhost" (RFC 6761; browsers resolve these to loopback themselves) or a loopback address.
func isLoopbackName(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// validHostName reports whether h is an IP address or a DNS name of letters, digits, "-", "_"
// and dots.
func validHostName(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
