package passwordauth

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/asyncmq/asyncmq/admin"
)

// Throttle is a token bucket: Burst attempts at once, then one more every Every.
type Throttle struct {
	Burst int
	Every time.Duration
}

func (t Throttle) withDefault(d Throttle) Throttle {
	if t.Burst == 0 {
		t.Burst = d.Burst
	}
	if t.Every == 0 {
		t.Every = d.Every
	}
	return t
}

// limiters is a bounded LRU of token buckets by key. An evicted key starts again with a full
// bucket, so the bound trades a little precision under a flood of distinct keys for a fixed
// amount of memory.
type limiters struct {
	t   Throttle
	max int

	mu sync.Mutex
	ll *list.List // front = most recently used
	m  map[string]*list.Element
}

type limiterEntry struct {
	key string
	lim *rate.Limiter
}

func newLimiters(t Throttle, max int) *limiters {
	return &limiters{t: t, max: max, ll: list.New(), m: map[string]*list.Element{}}
}

func (l *limiters) get(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[key]; ok {
		l.ll.MoveToFront(e)
		return e.Value.(*limiterEntry).lim
	}
	lim := rate.NewLimiter(rate.Every(l.t.Every), l.t.Burst)
	l.m[key] = l.ll.PushFront(&limiterEntry{key: key, lim: lim})
	if l.ll.Len() > l.max {
		last := l.ll.Back()
		l.ll.Remove(last)
		delete(l.m, last.Value.(*limiterEntry).key)
	}
	return lim
}

func (l *limiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ll.Len()
}

// take spends one token for key, or reports how long until one is available without spending.
func (l *limiters) take(key string, now time.Time) (wait time.Duration) {
	r := l.get(key).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// available reports how long until key has a token, without spending one.
func (l *limiters) available(key string, now time.Time) (wait time.Duration) {
	tokens := l.get(key).TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) * float64(l.t.Every)))
}

// spend takes one token for key even if that puts the bucket in debt: every further failure
// pushes the next allowed attempt later.
func (l *limiters) spend(key string, now time.Time) {
	l.get(key).ReserveN(now, 1)
}

// usernameKey is the throttling key of a username: the name exactly as the store compares it,
// so "alice" and "Alice", two accounts of a case-sensitive store, have their own buckets and one
// cannot lock the other out. Keying without case would buy nothing: a case variant of a name is
// another account or none, and guessing against it cannot sign in as the original. (A store
// that compares without case returns the original's ID, and loginPost then charges that
// account's bucket.) The key is cut after maxUsername+1 bytes, since longer names cannot exist,
// and copied: a form value can share the whole request body's memory, which the LRU would
// otherwise keep alive for every remembered key.
func usernameKey(u string) string {
	u = strings.TrimSpace(u)
	if len(u) > maxUsername+1 {
		u = u[:maxUsername+1]
	}
	return strings.Clone(u)
}

// ClientFromRemoteAddr is the default Config.ClientKey: the IP address of the connection, with
// IPv6 addresses reduced to their /64, since one host commonly holds a whole /64.
func ClientFromRemoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return clientKey(host)
}

// ClientFromProxies returns a Config.ClientKey for a server behind the reverse proxies in l: the
// client address the proxies vouch for in X-Forwarded-For (admin.ProxyList.ClientAddr, the
// right-most address that is not a trusted proxy), with IPv6 addresses reduced to their /64.
// Without it every sign-in through a proxy shares the proxy's bucket, and one client's failures
// lock everybody out.
func ClientFromProxies(l admin.ProxyList) func(*http.Request) string {
	return func(r *http.Request) string { return clientKey(l.ClientAddr(r)) }
}

func clientKey(host string) string {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// retryAfter renders a wait as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
