// Package e2e serves asyncmq's whole dashboard stack in-process, as `asyncmq serve` wires it, for
// the browser tests in this package and the load benchmark in internal/loadtest: the SQLite
// backend (or any store by URL), an optional asyncmq.Worker, JWT authentication with the paste-a-token login form,
// the admin handler (login, sessions, strict security headers) and the dashboard with roles,
// mounted at /asyncmq on a loopback port.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	_ "github.com/asyncmq/asyncmq/backend/all" // Config.BackendURL opens any store
	"github.com/asyncmq/asyncmq/backend/sqlite"
	"github.com/asyncmq/asyncmq/dashboard"
)

// Prefix is where the stack mounts the dashboard, as `asyncmq serve` does by default.
const Prefix = "/asyncmq"

// CookieName is the cookie the login form keeps a pasted token in; `asyncmq serve` uses the same
// default, and setting it is what makes jwtauth offer the form.
const CookieName = "asyncmq_token"

// Config configures Start. One of DBPath and BackendURL is required.
type Config struct {
	// DBPath is the SQLite file of the queue; it is created if missing. Ignored when BackendURL
	// is set.
	DBPath string
	// BackendURL opens the store by URL instead, as `asyncmq serve --backend` does: such as
	// redis://127.0.0.1:6379/13 or postgres://…?migrate=auto. Every store asyncmq ships is linked.
	BackendURL string
	// Handler runs the jobs of Queues in an in-process asyncmq.Worker. Nil runs no worker, as a
	// dashboard-only `asyncmq serve --workers 0` does.
	Handler asyncmq.Handler
	// Queues maps the queues the worker serves to their concurrency; default the default queue
	// at concurrency 1. Ignored without Handler.
	Queues map[string]int
	// EventPollInterval is the dashboard's live-update poll interval; default the dashboard's
	// (500ms).
	EventPollInterval time.Duration
	// Logger receives the logs of every part; default a logger that drops everything, so that a
	// benchmark's output stays readable.
	Logger *slog.Logger
	// Wrap, when set, wraps the stack's handler, as a test's middleware (one that delays
	// answers, say).
	Wrap func(http.Handler) http.Handler
}

// Stack is a running dashboard stack. Close it when done.
type Stack struct {
	// URL is the dashboard's root without the trailing slash: http://127.0.0.1:<port>/asyncmq.
	URL string
	// Backend is the store the dashboard reads and the worker works on.
	Backend asyncmq.Store
	// Client enqueues into Backend.
	Client *asyncmq.Client
	// Inspector administers Backend, for set-up and for checking stored state.
	Inspector *asyncmq.Inspector

	secret []byte
	srv    *http.Server
	dash   *dashboard.Dashboard
	jwt    *jwtauth.Backend
	stop   context.CancelFunc
	wg     sync.WaitGroup
	// served reports why the HTTP server stopped, once Close has stopped it.
	served chan error

	closeOnce sync.Once
	closeErr  error
}

// Start opens the store, builds the stack with a freshly generated HS256 secret, and serves it
// on 127.0.0.1 at a free port. Bearer tokens for it come from Token.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.DBPath == "" && cfg.BackendURL == "" {
		return nil, errors.New("e2e: Config.DBPath or Config.BackendURL is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stack{served: make(chan error, 1)}
	// Until Start succeeds, Close undoes whatever was built so far.
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	var b asyncmq.Store
	if cfg.BackendURL != "" {
		// asyncmq.Open's errors name the URL with its password hidden.
		if b, err = asyncmq.Open(ctx, cfg.BackendURL); err != nil {
			return nil, fmt.Errorf("e2e: %w", err)
		}
	} else if b, err = sqlite.Open(ctx, cfg.DBPath, sqlite.Logger(log)); err != nil {
		return nil, fmt.Errorf("e2e: open SQLite store %s: %w", cfg.DBPath, err)
	}
	s.Backend = b
	s.Client = asyncmq.NewClient(b)
	s.Inspector = asyncmq.NewInspector(b)

	if s.secret, err = jwtauth.GenerateSecret("HS256"); err != nil {
		return nil, fmt.Errorf("e2e: generate JWT secret: %w", err)
	}
	if s.jwt, err = jwtauth.New(ctx, jwtauth.Config{Secret: s.secret, CookieName: CookieName, Logger: log}); err != nil {
		return nil, fmt.Errorf("e2e: build JWT backend: %w", err)
	}
	s.dash, err = dashboard.New(s.Inspector, dashboard.Config{
		Roles:             true,
		EventPollInterval: cfg.EventPollInterval,
		Logger:            log,
	})
	if err != nil {
		return nil, fmt.Errorf("e2e: build dashboard: %w", err)
	}
	// The settings `asyncmq serve` uses with roles on; sessions, security headers (the strict
	// default CSP) and same-origin checks stay at their defaults, which are on.
	adm, err := admin.New(admin.Config{
		Handler:       s.dash,
		URLPrefix:     Prefix,
		EnableLogin:   true,
		Backend:       s.jwt,
		RequireAdmin:  new(false),
		RequiredRoles: []string{"viewer", "operator", "admin"},
		Ready:         s.dash.Ready,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("e2e: build admin handler: %w", err)
	}
	mux := http.NewServeMux()
	adm.Mount(mux)

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if cfg.Handler != nil {
		queues := cfg.Queues
		if len(queues) == 0 {
			queues = map[string]int{asyncmq.DefaultQueue: 1}
		}
		w, err := asyncmq.NewWorker(b, cfg.Handler, asyncmq.WorkerConfig{Queues: queues, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("e2e: build worker: %w", err)
		}
		s.wg.Go(func() {
			if err := w.Run(runCtx); err != nil {
				log.Error("e2e: worker stopped", "error", err)
			}
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("e2e: listen on a loopback port: %w", err)
	}
	s.URL = "http://" + ln.Addr().String() + Prefix
	var h http.Handler = mux
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// An open live-update stream never ends by itself; closing the dashboard ends it, so that
	// Shutdown does not wait for its timeout.
	s.srv.RegisterOnShutdown(s.dash.Close)
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// TokenParams describes a bearer token for Token.
type TokenParams struct {
	// Subject is the user ID; required.
	Subject string
	// Name is the display name; default Subject.
	Name string
	// Roles are the dashboard roles: "viewer", "operator" or "admin".
	Roles []string
	// Admin grants every role.
	Admin bool
	// TTL is the token's lifetime; default one hour.
	TTL time.Duration
}

// Token issues an HS256 token the stack accepts.
func (s *Stack) Token(p TokenParams) (string, error) {
	if p.TTL <= 0 {
		p.TTL = time.Hour
	}
	tok, err := jwtauth.Issue(jwtauth.IssueParams{
		Subject: p.Subject, Name: p.Name, Roles: p.Roles, Admin: p.Admin, TTL: p.TTL,
	}, "HS256", s.secret)
	if err != nil {
		return "", fmt.Errorf("e2e: issue token for %q: %w", p.Subject, err)
	}
	return tok, nil
}

// Close stops serving (ending open event streams), stops the worker gracefully and closes the
// store. It returns every error met; later calls return the same.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Stack) close() error {
	var errs []error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("e2e: shut the HTTP server down: %w", err))
		}
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("e2e: serve HTTP: %w", err))
		}
	}
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	if s.dash != nil {
		s.dash.Close()
	}
	if s.jwt != nil {
		if err := s.jwt.Verifier().Close(); err != nil {
			errs = append(errs, fmt.Errorf("e2e: close JWT verifier: %w", err))
		}
	}
	if s.Backend != nil {
		if err := s.Backend.Close(); err != nil {
			errs = append(errs, fmt.Errorf("e2e: close store: %w", err))
		}
	}
	return errors.Join(errs...)
}
