package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redact"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Backend is a backend.Backend stored in a PostgreSQL schema. It is safe for concurrent use by
// several goroutines, and any number of Backends, in one process or in many, may share a schema.
type Backend struct {
	pool   *pgxpool.Pool
	cfg    config
	schema string
	// url is the connection URL with its password hidden, for errors and logs.
	url string

	enq      enqueuer
	notifier *notifier
	// lc caches the counts and deep-page anchors of large queues (listcache.go); refreshes
	// carries the refreshes of its stale values to the refresher goroutine.
	lc        listCache
	refreshes chan func(context.Context)

	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup

	// skew is the server's clock minus this host's, in nanoseconds (see now).
	skew atomic.Int64
}

var (
	_ backend.Store    = (*Backend)(nil)
	_ backend.Notifier = (*Backend)(nil)
)

// MinServerVersion is the oldest PostgreSQL release the store supports (server_version_num).
// The schema uses gen_random_uuid and autovacuum settings for inserts, both from PostgreSQL 13.
const MinServerVersion = 130000

// Open connects to the PostgreSQL database named by url (postgres:// or postgresql://, with any
// of pgx's connection parameters) and checks that its schema is at the version this code knows.
//
// Besides pgx's parameters the URL may carry, and Open removes before connecting:
//   - schema=<name>: the PostgreSQL schema holding asyncmq's tables (default "public"), so that
//     several applications can share a database. It must exist.
//   - migrate=auto: apply missing migrations at Open (the AutoMigrate option does the same).
//
// Open fails with an error naming the problem (and the URL with its password hidden) when the
// server cannot be reached, refuses the login, has no such database, is older than
// MinServerVersion, or when the schema has no asyncmq tables, has them at an older version
// (without migrate=auto) or at a newer version than this build knows.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Backend, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	shown := redact.URL(rawURL)
	pc, schema, auto, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres backend %q: %w", shown, err)
	}
	if auto {
		cfg.migrate = true
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("open postgres backend %q: %w", shown, err)
	}
	pc.MaxConns = int32(cfg.maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open postgres backend %q: %w", shown, describe(err))
	}
	b := &Backend{pool: pool, cfg: cfg, schema: schema, url: shown, stop: make(chan struct{}),
		refreshes: make(chan func(context.Context), refreshQueue)}
	err = b.check(ctx)
	if err == nil {
		err = b.measureSkew(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres backend %q: %w", shown, err)
	}
	b.notifier = newNotifier(b, pc.ConnConfig)
	b.wg.Add(3)
	go b.maintain()
	go b.refresh()
	go b.notifier.send(b.stop)
	return b, nil
}

func init() {
	open := func(ctx context.Context, url string) (backend.Store, error) { return Open(ctx, url) }
	backend.Register("postgres", open)
	backend.Register("postgresql", open)
}

// parseURL turns a backend URL into a pool configuration, taking out asyncmq's own parameters.
func parseURL(raw string) (*pgxpool.Config, string, bool, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the URL, password included.
		return nil, "", false, fmt.Errorf("malformed URL: %w", asyncmqtype.ErrInvalid)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
	default:
		return nil, "", false, fmt.Errorf("scheme %q is not postgres or postgresql: %w", u.Scheme, asyncmqtype.ErrInvalid)
	}
	q := u.Query()
	schema := q.Get("schema")
	auto := false
	switch m := q.Get("migrate"); m {
	case "":
	case "auto":
		auto = true
	default:
		return nil, "", false, fmt.Errorf("migrate=%q: want migrate=auto or nothing: %w", m, asyncmqtype.ErrInvalid)
	}
	q.Del("schema")
	q.Del("migrate")
	u.RawQuery = q.Encode()
	if schema == "" {
		schema = "public"
	}
	pc, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		// pgx's parse errors quote the connection string, password included: keep only the kind.
		return nil, "", false, fmt.Errorf("bad connection parameters: %w", asyncmqtype.ErrInvalid)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	// The store's statements are short index lookups, but a count over a large queue, or the
	// queue listing that contains one even when it is skipped, has a plan cost past
	// jit_above_cost: compiling it takes ~100-250 ms each time, far more than running it. Off
	// unless the URL sets it (jit=on).
	if _, set := pc.ConnConfig.RuntimeParams["jit"]; !set {
		pc.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return pc, schema, auto, nil
}

// SQLDSN turns a store URL into a connection string for database/sql with pgx's driver
// (github.com/jackc/pgx/v5/stdlib, driver name "pgx"), for tables that live beside the store's,
// such as the dashboard's users and sessions: asyncmq's own options (schema, migrate) are taken
// out, and the schema becomes the connection's search_path. Errors never show the password.
func SQLDSN(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("postgres URL %q: malformed: %w", redact.URL(rawURL), asyncmqtype.ErrInvalid)
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
	default:
		return "", fmt.Errorf("postgres URL %q: scheme %q is not postgres or postgresql: %w", redact.URL(rawURL), u.Scheme, asyncmqtype.ErrInvalid)
	}
	q := u.Query()
	if schema := q.Get("schema"); schema != "" {
		q.Set("search_path", pgx.Identifier{schema}.Sanitize())
	}
	q.Del("schema")
	q.Del("migrate")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// check verifies the server version and the schema version, migrating when configured to.
func (b *Backend) check(ctx context.Context) error {
	// The server reports its version when a connection starts, before any statement: a server too
	// old for the statements below is named as such rather than by a syntax error.
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return describe(err)
	}
	shown := conn.Conn().PgConn().ParameterStatus("server_version")
	conn.Release()
	if v := versionNum(shown); v < MinServerVersion {
		return fmt.Errorf("PostgreSQL server version %q is too old: asyncmq needs %d or later", shown, MinServerVersion/10000)
	}
	var exists bool
	if err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, b.schema).Scan(&exists); err != nil {
		return describe(err)
	}
	if !exists {
		return fmt.Errorf("schema %q does not exist; create it (CREATE SCHEMA %s) or name another with ?schema=", b.schema, pgx.Identifier{b.schema}.Sanitize())
	}
	if b.cfg.migrate {
		if _, err := migrate(ctx, b.pool, b.schema, len(migrations), false, b.cfg.logger); err != nil {
			return err
		}
	}
	v, err := schemaVersion(ctx, b.pool)
	if err != nil {
		return describe(err)
	}
	switch {
	case v == 0:
		return fmt.Errorf("schema %q has no asyncmq tables: run `asyncmq migrate up` or open with migrate=auto", b.schema)
	case v > len(migrations):
		return errNewerSchema(b.schema, v)
	case v < len(migrations):
		return fmt.Errorf("schema %q is at asyncmq version %d, this build needs %d: run `asyncmq migrate up` or open with migrate=auto", b.schema, v, len(migrations))
	}
	// A role that may read the schema but not write the jobs table fails here, not at the first
	// enqueue.
	var canWrite bool
	err = b.pool.QueryRow(ctx, `SELECT has_table_privilege('asyncmq_jobs', 'INSERT, UPDATE, DELETE')
	AND has_table_privilege('asyncmq_event_log', 'INSERT')`).Scan(&canWrite)
	if err != nil {
		return describe(err)
	}
	if !canWrite {
		return fmt.Errorf("role %q may not write asyncmq's tables in schema %q: grant it INSERT, UPDATE, DELETE", b.pool.Config().ConnConfig.User, b.schema)
	}
	// Every job's row is updated and deleted in turn: without autovacuum the dead rows pile up,
	// and claims and listings read past them. The tables' own settings (0001_init) assume it runs.
	var autovacuum string
	if err := b.pool.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum); err == nil && autovacuum == "off" {
		b.cfg.logger.Warn("asyncmq postgres: the server runs with autovacuum off; dead job rows will pile up and slow claims and listings: turn autovacuum on, or VACUUM the asyncmq tables on a schedule", "schema", b.schema)
	}
	return nil
}

// versionNum reads a server_version such as "15.4 (Debian 15.4-1)", "17beta1" or "9.6.24" as a
// server_version_num (150004, 170000, 90624); 0 when it cannot.
func versionNum(v string) int {
	v, _, _ = strings.Cut(v, " ")
	parts := strings.Split(v, ".")
	num := func(i int) int {
		if i >= len(parts) {
			return 0
		}
		s := parts[i]
		end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if end >= 0 {
			s = s[:end]
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	if major := num(0); major >= 10 {
		return major*10000 + num(1)
	}
	return num(0)*10000 + num(1)*100 + num(2)
}

func errNewerSchema(schema string, v int) error {
	return fmt.Errorf("schema %q is at asyncmq version %d, newer than version %d, the newest this build knows; upgrade asyncmq", schema, v, len(migrations))
}

// describe adds words a user can act on to connection and permission errors.
func describe(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("login refused (wrong user or password?): %w", err)
		case "3D000":
			return fmt.Errorf("database does not exist: %w", err)
		case "42501":
			return fmt.Errorf("permission denied: %w", err)
		case "3F000":
			return fmt.Errorf("schema does not exist: %w", err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("cannot reach the PostgreSQL server: %w", err)
	}
	return err
}

// Schema returns the PostgreSQL schema that holds the store's tables.
func (b *Backend) Schema() string { return b.schema }

// Pool returns the connection pool, for applications that want to run their own statements in
// the same database (transactional enqueue takes the caller's pgx.Tx instead).
func (b *Backend) Pool() *pgxpool.Pool { return b.pool }

// Ping checks that the server answers with one round trip.
func (b *Backend) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("ping postgres backend: %w", asyncmqtype.ErrClosed)
	}
	if err := b.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres backend %q: %w", b.url, b.fail(describe(err)))
	}
	return nil
}

// Close stops the listener and the maintenance pass and closes the pool. Calls after Close fail
// with asyncmqtype.ErrClosed.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.stop)
	b.notifier.close()
	b.wg.Wait()
	b.pool.Close()
	return nil
}

// fail reports calls that raced with Close as asyncmqtype.ErrClosed.
func (b *Backend) fail(err error) error {
	if err != nil && b.closed.Load() && !errors.Is(err, asyncmqtype.ErrClosed) {
		return fmt.Errorf("%w (%v)", asyncmqtype.ErrClosed, err)
	}
	return err
}

// now is the store's clock: the server's, as this host's clock plus the skew measured at Open
// and again by every maintenance pass. Reading the server's clock in every statement instead
// (now() in SQL) would make each statement compute its own lease expiries, retry times and metric
// minutes; the estimate is off by at most half a round trip, far below any lease or poll.
func (b *Backend) now() time.Time {
	return time.Now().Add(time.Duration(b.skew.Load())).UTC()
}

// measureSkew reads the server's clock a few times and keeps the reading with the shortest
// round trip, taking the server's time to be at its middle.
func (b *Backend) measureSkew(ctx context.Context) error {
	best := time.Duration(-1)
	var skew time.Duration
	for range 3 {
		start := time.Now()
		var server time.Time
		if err := b.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&server); err != nil {
			return fmt.Errorf("read the server's clock: %w", describe(err))
		}
		rtt := time.Since(start)
		if best < 0 || rtt < best {
			best, skew = rtt, server.Sub(start.Add(rtt/2))
		}
	}
	b.skew.Store(int64(skew))
	return nil
}

func (b *Backend) clock(t time.Time) time.Time {
	if t.IsZero() {
		return b.now()
	}
	return t.UTC()
}

// open reports asyncmqtype.ErrClosed after Close and a done context, before any work.
func (b *Backend) open(ctx context.Context) error {
	if b.closed.Load() {
		return asyncmqtype.ErrClosed
	}
	return ctx.Err()
}

// retryable reports errors after which a transaction may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// tx runs fn in a transaction, again when PostgreSQL aborted it for a deadlock or a
// serialization failure (rare: concurrent dependency releases, say). fn may run more than once,
// so it must keep its effects inside the transaction and fx.
func (b *Backend) tx(ctx context.Context, now time.Time, fn func(t *wtx) error) error {
	if err := b.open(ctx); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := b.txOnce(ctx, now, fn)
		if err == nil || !retryable(err) || attempt == 4 || ctx.Err() != nil {
			return b.fail(err)
		}
	}
}

func (b *Backend) txOnce(ctx context.Context, now time.Time, fn func(t *wtx) error) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return describe(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	w := &wtx{b: b, tx: tx, ctx: ctx, now: now}
	if err := fn(w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.committed()
	return nil
}

// Option configures a Backend at Open.
type Option func(*config)

type config struct {
	maxConns        int
	eventRetention  int
	metricRetention time.Duration
	migrate         bool
	durableOutcomes bool
	logger          *slog.Logger
}

func defaultConfig() config {
	return config{
		maxConns:        20,
		eventRetention:  100_000,
		metricRetention: 7 * 24 * time.Hour,
		logger:          slog.New(slog.DiscardHandler),
	}
}

func (c config) validate() error {
	switch {
	case c.maxConns < 2:
		return fmt.Errorf("max connections %d, want at least 2: %w", c.maxConns, asyncmqtype.ErrInvalid)
	case c.eventRetention < 1:
		return fmt.Errorf("event retention %d, want at least 1: %w", c.eventRetention, asyncmqtype.ErrInvalid)
	case c.metricRetention <= 0:
		return fmt.Errorf("metrics retention %s, want more than 0: %w", c.metricRetention, asyncmqtype.ErrInvalid)
	case c.logger == nil:
		return fmt.Errorf("nil logger: %w", asyncmqtype.ErrInvalid)
	}
	return nil
}

// MaxConns sets the size of the connection pool; the default is 20. The LISTEN connection is
// one more, outside the pool.
func MaxConns(n int) Option { return func(c *config) { c.maxConns = n } }

// EventRetention sets how many of the newest lifecycle events the store keeps; the default is
// 100,000. Older ones are deleted by the maintenance pass every few seconds.
func EventRetention(n int) Option { return func(c *config) { c.eventRetention = n } }

// MetricsRetention sets how long per-minute metric buckets are kept; the default is 7 days.
func MetricsRetention(d time.Duration) Option { return func(c *config) { c.metricRetention = d } }

// AutoMigrate makes Open apply missing schema migrations (under an advisory lock, so processes
// starting together are safe), as the URL parameter migrate=auto does. The default is off: Open
// refuses a schema that is behind, and `asyncmq migrate up` (or the Migrate function) brings it
// up to date.
func AutoMigrate() Option { return func(c *config) { c.migrate = true } }

// DurableOutcomes makes claims and outcomes wait for their commit to reach the disk, as
// enqueues always do. By default they do not (see transitionBatch): a server crash may then make
// the jobs of the last moments run again, which costs nothing extra under at-least-once
// delivery and saves one disk flush per claim and per batch of outcomes.
func DurableOutcomes() Option { return func(c *config) { c.durableOutcomes = true } }

// Logger sets where the backend logs migrations and listener reconnections; the default
// discards.
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }
