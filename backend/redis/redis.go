// Package redis is an asyncmq store on Redis 7 or later, on a single server, behind Sentinel, or
// on Redis Cluster.
//
// Every transition is one Lua script run by SHA on the keys of one queue, which all carry the
// queue's hash tag, so a script touches one Cluster slot and is atomic. Hot paths are batched:
// a claim takes up to the worker's free slots in one call, Finish records many outcomes in one
// call per queue, and calls made at the same time by many goroutines share pipelines. Idle
// workers wake through sharded pub/sub (Subscribe) instead of polling.
//
// Times are stored as Unix microseconds. When a Params' Now is zero the scripts read the Redis
// server's clock (TIME), so lease expiry and due checks do not depend on the workers' clocks.
//
// Durability is Redis's: run it with appendonly yes (appendfsync everysec loses at most about a
// second of writes on a power loss; always loses nothing) and a maxmemory-policy of noeviction,
// since an evicted key is a lost job. Open refuses an evicting policy.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redact"
	goredis "github.com/redis/go-redis/v9"
)

// MinVersion is the oldest Redis the store runs on: it needs sharded pub/sub (7.0).
const MinVersion = "7.0.0"

// Store is a Redis-backed asyncmq store. It is safe for concurrent use, and any number of
// processes may share one Redis (with one key prefix).
type Store struct {
	rdb     goredis.UniversalClient
	cluster bool
	prefix  string
	events  int64
	url     string
	log     *slog.Logger

	pipe    *pipeliner
	combine *enqueueCombiner
	notify  *notifier
	closed  atomic.Bool
	// functions: claim and finish run as functions (functions.go); false once the server
	// refused to load them.
	functions atomic.Bool
	// loadAfter: Unix nanoseconds before which loadFunctions does not try again; loadFailing:
	// the last load failed for a reason that may pass.
	loadAfter   atomic.Int64
	loadFailing atomic.Bool

	keyCache  sync.Map // queue name -> qkeys; see queueKeys
	keyCached atomic.Int64
}

// Option configures a Store at Open.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sets the logger for warnings (an evicting memory policy, lost notifications); the
// default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Open connects to the Redis named by rawURL and checks that it can hold a queue safely. URLs:
//
//	redis://[user:pass@]host:port/db         one server (db defaults to 0)
//	rediss://...                             the same over TLS
//	redis+cluster://host1:port,host2:port    Redis Cluster, from any seed nodes (rediss+cluster for TLS)
//	redis+sentinel://[user:pass@]host:26379,host2:26379/master/db  the master Sentinel names
//
// Query options: prefix=<name> (default "asyncmq") keeps several applications apart on one Redis;
// events=<n> (default 100000) bounds the event stream; allow_eviction=1 turns the refusal of an
// evicting maxmemory-policy into a logged warning; dial_timeout=<duration> (default 5s).
//
// Open fails with an error naming the problem when Redis cannot be reached, refuses the
// credentials, is older than MinVersion, is not a Cluster when the URL says it is, or evicts
// keys. Errors never include the password.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	t, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Store{cluster: t.topo == cluster, prefix: t.prefix, events: t.events, url: redact.URL(rawURL), log: o.log}
	// RESP2: the store uses nothing of RESP3, and with it go-redis looks for push notifications
	// before reading each reply, a twentieth of the client's CPU on the enqueue path.
	switch t.topo {
	case single:
		s.rdb = goredis.NewClient(&goredis.Options{
			Addr: t.addrs[0], Username: t.username, Password: t.password, DB: t.db, TLSConfig: t.tls,
			DialTimeout: t.dialTimeout, PoolSize: 64, MaxRetries: 3, Protocol: 2,
		})
	case cluster:
		s.rdb = goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: t.addrs, Username: t.username, Password: t.password, TLSConfig: t.tls,
			DialTimeout: t.dialTimeout, PoolSize: 64, MaxRetries: 3, Protocol: 2,
		})
	case sentinel:
		s.rdb = goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: t.master, SentinelAddrs: t.addrs, Username: t.username, Password: t.password,
			DB: t.db, TLSConfig: t.tls, DialTimeout: t.dialTimeout, PoolSize: 64, MaxRetries: 3, Protocol: 2,
		})
	}
	if err := s.check(ctx, t); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("open redis store %s: %w", s.url, err)
	}
	if err := s.checkLayout(ctx); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("open redis store %s: %w", s.url, err)
	}
	s.functions.Store(true)
	if s.loadFunctions(ctx) {
		s.pruneFunctions(ctx)
	}
	s.pipe = newPipeliner(s)
	s.combine = newEnqueueCombiner(s)
	s.notify = newNotifier(s)
	return s, nil
}

// check verifies the server before any job is trusted to it.
func (s *Store) check(ctx context.Context, t target) error {
	info, err := s.rdb.Info(ctx, "server", "memory", "cluster").Result()
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "invalid password"):
			return fmt.Errorf("redis refused the credentials (wrong user name or password)")
		case strings.Contains(msg, "cluster support disabled"):
			return fmt.Errorf("the URL asks for Redis Cluster but the server is not a Cluster node (cluster_enabled:0); use redis:// for a single server")
		}
		return fmt.Errorf("cannot reach redis at %s: %s", strings.Join(t.addrs, ","), redactErr(msg, t.password))
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if v := fields["redis_version"]; !versionAtLeast(v, MinVersion) {
		return fmt.Errorf("redis %s is too old: the store needs %s or later (sharded pub/sub)", v, MinVersion)
	}
	if t.topo == cluster && fields["cluster_enabled"] != "1" {
		return fmt.Errorf("the URL asks for Redis Cluster but the server is not a Cluster node (cluster_enabled:0); use redis:// for a single server")
	}
	if t.topo != cluster && fields["cluster_enabled"] == "1" {
		return fmt.Errorf("the server is a Redis Cluster node; use redis+cluster://%s", strings.Join(t.addrs, ","))
	}
	if p := fields["maxmemory_policy"]; p != "" && p != "noeviction" {
		msg := fmt.Sprintf("redis maxmemory-policy is %q: Redis may evict job keys and lose jobs; set maxmemory-policy noeviction", p)
		if !t.allowEviction {
			return errors.New(msg + " (or pass allow_eviction=1 to run anyway)")
		}
		s.log.Warn("UNSAFE REDIS CONFIGURATION: " + msg)
	}
	return nil
}

// Layout is the version of the key layout this build writes and reads (keys.go). The store
// records it under "<prefix>:layout" and refuses to start on data a newer build wrote, whose keys
// it could misread; a build before the record existed (layout 0) cannot check it, so its
// processes must be stopped before this build starts (see the README). In layout 2 a single
// server's ID index lacks the IDs asyncmq made of plain enqueues (global.go), which a layout 1
// build would not find. In layout 3 most waiting jobs are in the queue's lane (lane.go), which a
// layout 2 build would neither claim nor list.
const Layout = 3

// raiseLayout records ARGV[1] as the layout unless the record is higher already, atomically: two
// builds starting at once must not lower it. It returns the record it leaves.
var raiseLayout = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) and tonumber(v) >= tonumber(ARGV[1]) then return v end
if v and not tonumber(v) then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`)

// checkLayout refuses a prefix whose recorded layout is newer than Layout (or not a number), and
// records Layout over an older one. When the record cannot be read or written (a Redis too full
// to take it, a Cluster whose node for the key is down) it logs a warning and lets the store
// start: enqueues say when Redis is full, and a layout it cannot see is one it cannot refuse.
func (s *Store) checkLayout(ctx context.Context) error {
	key := s.prefix + ":layout"
	check := func(v string) error {
		have, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return fmt.Errorf("the layout record %s holds %q, not a number", key, v)
		case have > Layout:
			return fmt.Errorf("the data under prefix %q has key layout %d, written by a newer asyncmq; this build reads layout %d: upgrade it, or use another prefix", s.prefix, have, Layout)
		}
		return nil
	}
	v, err := s.rdb.Get(ctx, key).Result()
	switch {
	case err == nil:
		if err := check(v); err != nil {
			return err
		}
	case !errors.Is(err, goredis.Nil):
		s.log.Warn("asyncmq redis: read the key layout record", "key", key, "err", err)
		return nil
	}
	if v == strconv.Itoa(Layout) {
		return nil
	}
	now, err := raiseLayout.Run(ctx, s.rdb, []string{key}, Layout).Text()
	if err != nil {
		s.log.Warn("asyncmq redis: record the key layout", "key", key, "err", err)
		return nil
	}
	return check(now)
}

func redactErr(msg, password string) string {
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
	}
	return msg
}

// versionAtLeast compares dotted versions numerically.
func versionAtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := range b {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}

func errClosed() error { return fmt.Errorf("redis store: %w", asyncmqtype.ErrClosed) }

// guard is the first line of every method: a closed store or a done context changes nothing.
func (s *Store) guard(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed()
	}
	return ctx.Err()
}

// Ping checks that Redis answers, in one round trip.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis %s: %w", s.url, err)
	}
	return nil
}

// Close stops the store's background work and closes its connections. It may be called again.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.notify.close()
	s.combine.close()
	s.pipe.close()
	return s.rdb.Close()
}

var (
	_ backend.Store      = (*Store)(nil)
	_ backend.Notifier   = (*Store)(nil)
	_ backend.ClaimLaner = (*Store)(nil)
)

// The schemes Open understands, registered for asyncmq.Open.
func init() {
	open := func(ctx context.Context, url string) (backend.Store, error) { return Open(ctx, url) }
	for _, scheme := range []string{"redis", "rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"} {
		backend.Register(scheme, open)
	}
}

// CountsLag is 0: counts are the cardinalities of the state sets, exact after every transition.
func (s *Store) CountsLag() time.Duration { return 0 }

// AcrossProcesses is true: wake-ups go through Redis, to every process subscribed.
func (s *Store) AcrossProcesses() bool { return true }
