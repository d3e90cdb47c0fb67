package redis

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// topology is how the store reaches Redis.
type topology int

const (
	single topology = iota
	cluster
	sentinel
)

// target is a parsed store URL.
type target struct {
	topo     topology
	addrs    []string
	username string
	password string
	db       int
	master   string // Sentinel only
	tls      *tls.Config
	prefix   string
	events   int64
	// allowEviction turns the refusal of an evicting maxmemory-policy into a warning.
	allowEviction bool
	dialTimeout   time.Duration
}

// parseURL reads the URL forms documented on Open. Errors never show the password.
func parseURL(raw string) (target, error) {
	t := target{prefix: "asyncmq", events: 100_000, dialTimeout: 5 * time.Second}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("redis URL %q: %s: %w", redact.URL(raw), fmt.Sprintf(format, args...), asyncmqtype.ErrInvalid)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return t, invalid("no scheme")
	}
	switch strings.ToLower(scheme) {
	case "redis":
	case "rediss":
		t.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	case "redis+cluster":
		t.topo = cluster
	case "rediss+cluster":
		t.topo, t.tls = cluster, &tls.Config{MinVersion: tls.VersionTLS12}
	case "redis+sentinel":
		t.topo = sentinel
	case "rediss+sentinel":
		t.topo, t.tls = sentinel, &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return t, invalid("unknown scheme %q", scheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user := rest[:i]
		rest = rest[i+1:]
		name, pass, hasPass := strings.Cut(user, ":")
		var err error
		if t.username, err = url.PathUnescape(name); err != nil {
			return t, invalid("bad user name")
		}
		if hasPass {
			if t.password, err = url.PathUnescape(pass); err != nil {
				return t, invalid("bad password encoding")
			}
		}
	}
	hosts, path, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return t, invalid("no host")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return t, invalid("empty host in %q", hosts)
		}
		if !strings.Contains(h, ":") {
			h += ":6379"
		}
		t.addrs = append(t.addrs, h)
	}
	if t.topo == single && len(t.addrs) > 1 {
		return t, invalid("several hosts need redis+cluster:// or redis+sentinel://")
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		parts = nil
	}
	if t.topo == sentinel {
		if len(parts) == 0 {
			return t, invalid("a Sentinel URL needs the master name as its path (redis+sentinel://host:26379/mymaster/0)")
		}
		t.master, parts = parts[0], parts[1:]
	}
	if len(parts) > 1 {
		return t, invalid("path %q: want at most a database number", path)
	}
	if len(parts) == 1 {
		if t.topo == cluster {
			return t, invalid("Redis Cluster has only database 0; remove the path %q", path)
		}
		db, err := strconv.Atoi(parts[0])
		if err != nil || db < 0 {
			return t, invalid("database %q is not a number", parts[0])
		}
		t.db = db
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return t, invalid("bad query")
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "prefix":
			if v == "" {
				return t, invalid("empty prefix")
			}
			t.prefix = v
		case "events":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return t, invalid("events=%q: want a positive number", v)
			}
			t.events = n
		case "allow_eviction":
			t.allowEviction = v == "1" || v == "true"
		case "dial_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return t, invalid("dial_timeout=%q: want a duration", v)
			}
			t.dialTimeout = d
		case "insecure_skip_verify":
			if t.tls != nil && (v == "1" || v == "true") {
				t.tls.InsecureSkipVerify = true
			}
		default:
			return t, invalid("unknown option %q", k)
		}
	}
	return t, nil
}
