package cliserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/dashboard"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/demo"
)

// Run serves the dashboard, and runs the workers and the demo producer when asked, until ctx is
// cancelled; then it stops accepting requests, lets in-flight requests and jobs finish (within
// ShutdownTimeout and the worker's own grace period) and returns nil. Bad options are reported as
// a cli.UsageError before anything starts.
func Run(ctx context.Context, o Options) (err error) {
	if err := o.Validate(); err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}

	if !o.Demo {
		// Only the demo adds work; a dashboard over a missing file would show an empty store
		// that nobody else uses.
		if err := cli.RequireExistingStore(o.BackendURL); err != nil {
			return err
		}
	}
	b, err := asyncmq.Open(ctx, o.BackendURL)
	if err != nil {
		err = fmt.Errorf("--backend (%s): %w", cli.EnvName("backend"), err)
		if errors.Is(err, asyncmqtype.ErrInvalid) {
			return cli.AsUsage(err)
		}
		return err
	}
	var closers closeStack
	closers.push("backend", b.Close)
	defer func() { closers.closeAll(log) }()
	insp := asyncmq.NewInspector(b)
	o.recordAudit = insp.RecordAudit

	auth, err := newAuth(ctx, &o, log, &closers)
	if err != nil {
		return err
	}

	dash, err := dashboard.New(insp, dashboard.Config{Roles: o.Roles, Logger: log})
	if err != nil {
		return fmt.Errorf("build dashboard: %w", err)
	}
	closers.push("dashboard", func() error { dash.Close(); return nil })

	cfg := admin.Config{
		Handler:        dash,
		URLPrefix:      o.Prefix,
		TrustedProxies: o.TrustedProxies,
		// Never nil: loopback names are always served, other names only when listed.
		AllowedHosts: append([]string{}, o.AllowedHosts...),
		Ready:        dash.Ready,
		Logger:       log,
		Session:      admin.SessionConfig{Store: auth.sessions},
		// Open live-update streams end when their user signs out, is disabled or expires.
		StreamRecheckInterval: o.StreamRecheck,
	}
	if auth.backend != nil {
		cfg.EnableLogin = true
		cfg.Backend = auth.backend
	}
	if o.Roles {
		// The dashboard enforces viewer/operator/admin per action; the gate admits all three.
		cfg.RequireAdmin = new(false)
		cfg.RequiredRoles = []string{"viewer", "operator", "admin"}
	}
	adm, err := admin.New(cfg)
	if err != nil {
		if strings.Contains(err.Error(), "Config.AllowedHosts") {
			return flagErr("allowed-hosts", "%v", err)
		}
		return cli.Usagef("dashboard settings: %w", err)
	}
	if host, _, _ := net.SplitHostPort(o.Addr); !isLoopback(host) && len(o.AllowedHosts) == 0 {
		log.Warn("the dashboard answers only requests addressed to a loopback name; list the names browsers use in --allowed-hosts (ASYNCMQ_ALLOWED_HOSTS), or \"*\" for any",
			"addr", o.Addr)
	}

	mux := http.NewServeMux()
	adm.Mount(mux)
	if o.Prefix != "/" {
		// A browser pointed at the bare host lands on the dashboard.
		mux.Handle("GET /{$}", http.RedirectHandler(strings.TrimSuffix(o.Prefix, "/")+"/", http.StatusSeeOther))
	}
	readTimeout, writeTimeout := o.ReadTimeout, o.WriteTimeout
	if readTimeout == 0 {
		readTimeout = defaultReadTimeout
	}
	if writeTimeout == 0 {
		writeTimeout = defaultWriteTimeout
	}
	srv := &http.Server{
		Handler: mux,
		// A client that trickles its headers or its body is cut off, so an anonymous slow POST
		// cannot hold a connection for minutes. The dashboard's live-update stream lifts both
		// deadlines for itself (http.ResponseController) and bounds each write instead.
		ReadHeaderTimeout: min(10*time.Second, readTimeout),
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for open connections, and a browser's live-update stream never ends by
	// itself: closing the dashboard ends those streams so shutdown is not held to its timeout.
	srv.RegisterOnShutdown(dash.Close)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return flagErr("addr", "listen on %s: %v", o.Addr, err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup

	if o.Workers > 0 {
		mux := asyncmq.NewServeMux()
		(&demo.Handlers{}).Register(mux)
		w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{Queues: o.queues(), Logger: log})
		if err != nil {
			ln.Close()
			return fmt.Errorf("start worker: %w", err)
		}
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				cancel(fmt.Errorf("worker: %w", err))
			}
		})
	}
	if o.Demo {
		p := &demo.Producer{Client: asyncmq.NewClient(b), Inspector: insp, Interval: o.DemoInterval, Logger: log}
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				cancel(err)
			}
		})
	}

	serveErr := make(chan error, 1)
	if o.MetricsAddr != "" {
		msrv, mln, err := metricsServer(o.MetricsAddr, dash, log)
		if err != nil {
			ln.Close()
			return err
		}
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
		defer msrv.Close()
		log.Info("asyncmq metrics listening without authentication", "url", "http://"+mln.Addr().String()+"/metrics")
		if o.OnMetricsListen != nil {
			o.OnMetricsListen(mln.Addr())
		}
	}
	go func() { serveErr <- srv.Serve(ln) }()
	url := dashboardURL(ln.Addr(), o.Prefix)
	log.Info("asyncmq dashboard listening", "url", url, "auth", o.Auth, "workers", o.Workers, "demo", o.Demo)
	printBanner(out, url, &o, auth)
	if o.OnListen != nil {
		o.OnListen(ln.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		cancel(fmt.Errorf("serve HTTP: %w", err))
	}
	log.Info("asyncmq serve shutting down")
	timeout := o.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown incomplete", "err", err)
	}
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// Default request deadlines: a form is a few KiB and every page is rendered in well under a
// second, so these only ever stop clients that stall on purpose or hang.
const (
	defaultReadTimeout  = 20 * time.Second
	defaultWriteTimeout = 60 * time.Second
)

// queues returns the worker's queues: the configured ones, else the default queue and the demo's,
// each at Workers concurrency.
func (o *Options) queues() map[string]int {
	if len(o.Queues) > 0 {
		return o.Queues
	}
	qs := map[string]int{asyncmq.DefaultQueue: o.Workers}
	for _, q := range demo.Queues {
		qs[q] = o.Workers
	}
	return qs
}

// dashboardURL is the URL a person opens: an unspecified listen address (0.0.0.0, ::) is shown as
// 127.0.0.1, which reaches it from this machine.
func dashboardURL(addr net.Addr, prefix string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + prefix
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + strings.TrimSuffix(prefix, "/") + "/"
}

// closeStack closes what Run opened, last opened first.
type closeStack struct {
	names []string
	fns   []func() error
}

func (c *closeStack) push(name string, fn func() error) {
	c.names = append(c.names, name)
	c.fns = append(c.fns, fn)
}

func (c *closeStack) closeAll(log *slog.Logger) {
	for i := len(c.fns) - 1; i >= 0; i-- {
		if err := c.fns[i](); err != nil {
			log.Warn("close "+c.names[i], "err", err)
		}
	}
}

// metricsServer listens on addr and serves the dashboard's Prometheus exposition at /metrics,
// without authentication: scrapers rarely carry tokens, and the exposition holds counts and
// names, not payloads. Bind it where only the scraper reaches.
func metricsServer(addr string, dash *dashboard.Dashboard, log *slog.Logger) (*http.Server, net.Listener, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", dash.PrometheusHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, flagErr("metrics-addr", "listen on %s: %v", addr, err)
	}
	if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
		log.Warn("the metrics listener has no authentication and is not on loopback", "addr", addr)
	}
	return srv, ln, nil
}
