// Package dashboard is asyncmq's operations dashboard: server-rendered pages for queues, jobs, dead
// letters, repeatables, workers, metrics and the audit log, kept live over Server-Sent Events.
//
// A Dashboard is an http.Handler meant to be passed as admin.Config.Handler: the admin handler
// authenticates each request, enforces CSRF and same-origin rules and sets the security headers
// (a strict CSP without inline script or style) before the dashboard runs. The dashboard reads and
// changes data only through an asyncmq.Inspector, so every replica of it, and every worker process
// sharing the backend, sees the same queues, events, metrics and audit log.
//
// Every link, form action and asset URL is built from admin.BasePath, so the dashboard works when
// mounted at "/asyncmq", at "/", or under a nested outer prefix.
//
// Pages are cheap to serve to many viewers at once: the overview's queue counts, workers and
// recent events are the same for everyone, so they are read once and shared for up to a second
// (sooner replaced when the dashboard itself changes something or its live updates see new
// events), while each viewer's name, role and messages are rendered for that viewer. Listings
// are paged by the backend, and payloads are redacted and previewed only as far as shown.
package dashboard

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq"
)

// Config configures a Dashboard (the seed's settings.dashboard_config). The zero value is usable:
// every field has a default. The mount prefix is not here: it is the admin handler's URLPrefix,
// and the dashboard follows wherever it is mounted.
type Config struct {
	// Title prefixes every page title ("Dashboard | Queues"). Default "Dashboard".
	Title string
	// HeaderTitle is the brand text in the sidebar. Default "AsyncMQ".
	HeaderTitle string
	// AccentColor is the theme's accent colour: a CSS hex colour ("#3b5bdb", "#fff") or a CSS
	// colour name ("teal"). Default "#3b5bdb". It is served as a generated stylesheet, so the
	// pages keep working under a CSP that forbids inline styles.
	AccentColor string
	// Favicon is the URL of the page icon. A path under "/static/" is taken relative to the
	// dashboard's mount point; any other path starting with "/" is used as given. Default: the
	// built-in icon.
	Favicon string
	// Roles enforces the viewer, operator and admin roles of admin.User on every action: viewers
	// change nothing, operators may retry, cancel, remove and promote jobs and pause and resume
	// queues, admins may also drain, clean and obliterate queues and manage repeatables. A role
	// matches as given or with the "asyncmq:" prefix, and a user for whom User.Admin() is true
	// holds all three. Default off: every user the admin handler admits may do everything.
	Roles bool
	// RedactKeys are extra key names whose values are hidden before display, in payloads,
	// results, progress reports, error messages and stacks. They add to the defaults: password,
	// passwd, secret, token, authorization, api_key, apikey, private_key and credential. A key
	// matches any key that contains it, case-insensitively, with "_" and "-" interchangeable.
	RedactKeys []string
	// Logger receives the dashboard's logs. Default slog.Default().
	Logger *slog.Logger
	// EventPollInterval is how often the live-update hub reads new job events from the backend
	// while at least one browser is connected. Default 500ms.
	EventPollInterval time.Duration
	// WorkerStaleAfter is how old a worker's last heartbeat may be before the workers page
	// marks it stale; past two thirds of it the worker shows as aging. Default 30s, the
	// worker's default lease duration.
	WorkerStaleAfter time.Duration
}

// Limits on what a request may ask the dashboard to echo back.
const (
	// MaxURLPartBytes bounds a request's escaped path and its raw query, each; longer ones get
	// 414 URI Too Long.
	MaxURLPartBytes = 4 << 10
	// MaxFilterBytes bounds each filter value (q, task, job_id, queue, actor, action), which
	// pages copy into their links and forms; longer ones get 400.
	MaxFilterBytes = 512
)

// Dashboard is the dashboard's http.Handler. Create it with New and stop its background
// goroutine with Close.
type Dashboard struct {
	insp     *asyncmq.Inspector
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	tpl      *templates
	static   *staticFiles
	redact   *redactor
	hub      *hub
	favicon  string
	flashKey []byte
	counters *promCounters
	// overviewCache holds the overview's data, shared by every viewer for up to overviewTTL.
	overviewCache *shared[*overviewSnapshot]
	// eventsCache holds the newest events for the event history, shared the same way.
	eventsCache *shared[*eventsSnapshot]
	// chromes maps a mount path to its *chrome; chromeCount bounds it.
	chromes     sync.Map
	chromeCount atomic.Int64

	closeOnce sync.Once
}

// colourRE accepts the colour forms Config.AccentColor documents; anything else could break out
// of the generated stylesheet.
var colourRE = regexp.MustCompile(`^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{4}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-zA-Z]{3,30})$`)

// New returns a Dashboard over insp. It fails when the Inspector is nil or a Config value is
// malformed (an accent colour that is not a CSS colour, a favicon that is not a local path).
func New(insp *asyncmq.Inspector, cfg Config) (*Dashboard, error) {
	if insp == nil {
		return nil, errors.New("dashboard: Inspector is nil")
	}
	if cfg.Title == "" {
		cfg.Title = "Dashboard"
	}
	if cfg.HeaderTitle == "" {
		cfg.HeaderTitle = "AsyncMQ"
	}
	if cfg.AccentColor == "" {
		cfg.AccentColor = "#3b5bdb"
	}
	if !colourRE.MatchString(cfg.AccentColor) {
		return nil, fmt.Errorf("dashboard: Config.AccentColor %q is not a CSS hex colour or colour name", cfg.AccentColor)
	}
	if cfg.Favicon != "" && (!strings.HasPrefix(cfg.Favicon, "/") || strings.HasPrefix(cfg.Favicon, "//") ||
		strings.ContainsAny(cfg.Favicon, "\"'<> \\")) {
		return nil, fmt.Errorf("dashboard: Config.Favicon %q must be a path starting with \"/\"", cfg.Favicon)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.EventPollInterval <= 0 {
		cfg.EventPollInterval = 500 * time.Millisecond
	}
	if cfg.WorkerStaleAfter <= 0 {
		cfg.WorkerStaleAfter = 30 * time.Second
	}
	tpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("dashboard: parse templates: %w", err)
	}
	static, err := newStaticFiles(cfg.AccentColor)
	if err != nil {
		return nil, fmt.Errorf("dashboard: load static assets: %w", err)
	}
	red, err := newRedactor(cfg.RedactKeys)
	if err != nil {
		return nil, fmt.Errorf("dashboard: Config.RedactKeys: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("dashboard: generate flash cookie key: %w", err)
	}
	d := &Dashboard{
		insp:     insp,
		cfg:      cfg,
		log:      cfg.Logger,
		tpl:      tpl,
		static:   static,
		redact:   red,
		favicon:  cfg.Favicon,
		flashKey: key,
		counters: newPromCounters(),
	}
	d.overviewCache = newShared(overviewTTL, d.loadOverview)
	d.eventsCache = newShared(overviewTTL, d.loadEvents)
	d.hub = newHub(insp, red, cfg.EventPollInterval, cfg.Logger, d.dropSnapshots)
	d.routes()
	return d, nil
}

// dropSnapshots makes the next viewer of the overview and the event history read the store
// again: the hub saw new events, or a dashboard action changed the store.
func (d *Dashboard) dropSnapshots() {
	d.overviewCache.invalidate()
	d.eventsCache.invalidate()
}

func (d *Dashboard) routes() {
	m := http.NewServeMux()
	d.mux = m
	m.Handle("GET /{$}", d.page(d.overview))
	m.Handle("GET /queues", d.page(d.queueList))
	m.Handle("GET /queues/{name}", d.page(d.queueDetail))
	m.Handle("POST /queues/{name}", d.page(d.queueAction))
	m.Handle("GET /queues/{name}/jobs", d.page(d.jobList))
	m.Handle("POST /queues/{name}/jobs", d.page(d.jobBulk))
	m.Handle("GET /queues/{name}/jobs/{id}", d.page(d.jobDetail))
	m.Handle("POST /queues/{name}/jobs/{id}/{action}", d.page(d.jobAction))
	m.Handle("GET /queues/{name}/dlq", d.page(d.dlqList))
	m.Handle("POST /queues/{name}/dlq", d.page(d.dlqBulk))
	m.Handle("GET /queues/{name}/repeatables", d.page(d.repeatableList))
	m.Handle("POST /queues/{name}/repeatables", d.page(d.repeatableAction))
	m.Handle("GET /queues/{name}/repeatables/new", d.page(d.repeatableNew))
	m.Handle("POST /queues/{name}/repeatables/new", d.page(d.repeatableCreate))
	m.Handle("GET /workers", d.page(d.workerList))
	m.Handle("GET /metrics", d.page(d.metricsPage))
	m.Handle("GET /metrics/history", d.api(d.metricsHistory))
	m.Handle("GET /metrics/prometheus", http.HandlerFunc(d.prometheus))
	m.Handle("GET /audit", d.page(d.auditList))
	d.apiRoutes(m)
	m.Handle("GET /events", http.HandlerFunc(d.events))
	m.Handle("GET /events/history", d.page(d.eventHistory))
	m.Handle("GET /static/{path...}", http.HandlerFunc(d.serveStatic))
	// Without this, ServeMux answers "/static" with a redirect to "/static/" computed without the
	// mount prefix, off the dashboard. There is nothing to list there anyway.
	m.Handle("/static", d.page(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
	m.Handle("GET /favicon.ico", http.HandlerFunc(d.serveFavicon))
	m.Handle("/", d.page(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
}

// ServeHTTP serves the dashboard. The request path is relative to the dashboard's mount point
// (the admin handler strips its prefix); links are built from admin.BasePath.
//
// Pages copy the path and query into their links, so a request whose escaped path or raw query
// is longer than MaxURLPartBytes is refused with 414 rather than multiplied into a page many
// times its size; every filter value (q, task, job_id, queue, actor, ...) is further limited to
// MaxFilterBytes, over which the page answers 400.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > MaxURLPartBytes || len(r.URL.EscapedPath()) > MaxURLPartBytes {
		d.writeError(w, r, &httpError{http.StatusRequestURITooLong,
			fmt.Sprintf("The address is too long: its path and its query may each hold at most %d bytes.", MaxURLPartBytes)})
		return
	}
	// ServeMux would redirect an unclean path to its cleaned form computed without the mount
	// prefix; such paths are never linked, so they are simply not found.
	if p := r.URL.Path; p != "/" && path.Clean(p) != p {
		d.writeError(w, r, errNotFound)
		return
	}
	d.mux.ServeHTTP(w, r)
}

// Ready reports whether the backend answers, with one cheap round trip. Pass it as
// admin.Config.Ready so /ready reflects the store the dashboard reads.
func (d *Dashboard) Ready(ctx context.Context) error {
	return d.insp.Ping(ctx)
}

// Close stops the live-update hub and ends every open event stream. It is safe to call more than
// once; the Dashboard keeps serving pages afterwards, but live updates stop.
func (d *Dashboard) Close() {
	d.closeOnce.Do(d.hub.close)
}
