package admin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ProxyList is a parsed set of trusted reverse-proxy addresses. The zero value trusts no peer.
// Build one with ParseTrustedProxies; it is safe for concurrent use.
type ProxyList struct {
	prefixes []netip.Prefix
	unix     bool
}

// ParseTrustedProxies parses entries that are IP addresses ("10.0.0.10", "::1"), CIDR prefixes
// ("10.0.0.0/8", "fd00::/8") or the word "unix" (peers connected over a Unix socket, whose
// RemoteAddr is not an IP address). Surrounding spaces are ignored. "*" is refused: trusting
// every peer would let any client forge identity and forwarded headers; write "0.0.0.0/0" and
// "::/0" if that is really meant.
//
// The admin handler's Config.TrustedProxies and the proxyauth backend both use it, so a
// deployment's proxy list means the same thing everywhere.
func ParseTrustedProxies(entries []string) (ProxyList, error) {
	var l ProxyList
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		switch {
		case e == "":
			return ProxyList{}, fmt.Errorf("trusted proxy entry %q is empty", raw)
		case e == "*":
			return ProxyList{}, fmt.Errorf(`trusted proxy entry "*" is refused: list the proxies' addresses or CIDR prefixes (0.0.0.0/0 and ::/0 if every peer is meant)`)
		case strings.EqualFold(e, "unix"):
			l.unix = true
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return ProxyList{}, fmt.Errorf("trusted proxy entry %q is not a CIDR prefix: %w", raw, err)
			}
			if p.Addr().Is4In6() {
				// "::ffff:10.0.0.0/104" means the IPv4 range; peers are matched unmapped.
				if p.Bits() < 96 {
					return ProxyList{}, fmt.Errorf("trusted proxy entry %q mixes IPv4-mapped and IPv6 ranges", raw)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			l.prefixes = append(l.prefixes, p.Masked())
		default:
			a, err := netip.ParseAddr(e)
			if err != nil {
				return ProxyList{}, fmt.Errorf("trusted proxy entry %q is neither an IP address nor a CIDR prefix: %w", raw, err)
			}
			a = a.Unmap().WithZone("")
			l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return l, nil
}

// Empty reports whether the list trusts no peer at all.
func (l ProxyList) Empty() bool { return len(l.prefixes) == 0 && !l.unix }

// Contains reports whether remoteAddr — an http.Request's RemoteAddr, "ip:port" or a bare IP —
// is one of the trusted proxies. Only the connection's own peer address counts: forwarded
// headers such as X-Forwarded-For are never consulted, because any client can send them.
func (l ProxyList) Contains(remoteAddr string) bool {
	if l.Empty() {
		return false
	}
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		a = ap.Addr()
	} else if ip, err := netip.ParseAddr(remoteAddr); err == nil {
		a = ip
	} else {
		// net/http reports Unix-socket peers as "@" or "" rather than an address.
		return l.unix && (remoteAddr == "" || remoteAddr == "@")
	}
	a = a.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address of the client a request comes from, as far as the trusted
// proxies vouch for it. When the connection's peer is not a trusted proxy it is the client, and
// its address is returned. Otherwise X-Forwarded-For (every line, comma-separated) is read from
// the right, where each trusted proxy appends the address it received the request from: the
// first address that is not itself a trusted proxy is the client. Addresses further left were
// written by the client and are never used, so a client cannot pick its own address. When the
// chain holds something that is not an address, or only trusted proxies, the last trusted hop
// stands in for the client.
//
// The result is an IP address without port or zone ("203.0.113.9", "2001:db8::1"), or
// RemoteAddr as given when it is not an IP address (a Unix socket).
func (l ProxyList) ClientAddr(r *http.Request) string {
	hop := r.RemoteAddr
	if peer, ok := parseHostAddr(r.RemoteAddr); ok {
		hop = peer.String()
	}
	if !l.Contains(r.RemoteAddr) {
		return hop
	}
	vs := r.Header.Values("X-Forwarded-For")
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		for v != "" {
			var part string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				part, v = v[j+1:], v[:j]
			} else {
				part, v = v, ""
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			a, ok := parseHostAddr(part)
			if !ok {
				return hop
			}
			if !l.Contains(a.String()) {
				return a.String()
			}
			hop = a.String()
		}
	}
	return hop
}

// parseHostAddr parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port", unmapping IPv4-in-IPv6 and
// dropping any zone.
func parseHostAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
