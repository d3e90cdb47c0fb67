// Command password serves the asyncmq dashboard behind a username and password form, with
// server-side sessions and users stored in SQLite. See README.md.
//
//	go run ./examples/password
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/passwordauth"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/dashboard"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	db := flag.String("db", "asyncmq-example.db", "SQLite file holding users and sessions")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The admin's password: ASYNCMQ_EXAMPLE_PASSWORD, or a random one printed at start.
	if err := run(ctx, *addr, *db, os.Getenv("ASYNCMQ_EXAMPLE_PASSWORD"), os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the dashboard on addr until ctx ends, with users and sessions in the SQLite file
// dbPath. The user "admin" gets password, or a random one that is printed when password is "".
func run(ctx context.Context, addr, dbPath, password string, out io.Writer, ready func(net.Addr)) error {
	store, err := users.OpenSQL(ctx, "sqlite", dbPath)
	if err != nil {
		return err
	}
	defer store.Close()

	// An administrator with an argon2id-hashed password (OWASP parameters).
	if password == "" {
		password = rand.Text()
		fmt.Fprintf(out, "Generated password for user admin: %s\n", password)
	}
	if _, err := store.Create(ctx, users.User{ID: "admin", DisplayName: "Administrator", Active: true, Admin: true}); err != nil && !errors.Is(err, users.ErrUserExists) {
		return err
	}
	hash, err := users.HashPassword(password)
	if err != nil {
		return err
	}
	if err := store.SetPassword(ctx, "admin", hash); err != nil {
		return err
	}

	// Sessions live in the same database, so they survive a restart and are shared by every
	// process serving the dashboard. The cookie carries only a random token.
	sessions, err := users.NewSessionStore(ctx, store.DB(), users.SQLite)
	if err != nil {
		return err
	}
	defer sessions.Close()

	b := memory.New()
	defer b.Close()
	dash, err := dashboard.New(asyncmq.NewInspector(b), dashboard.Config{})
	if err != nil {
		return err
	}
	defer dash.Close()

	// Form login checked against the store, throttled per user name and per client before
	// any hashing, with the session ID renewed at sign-in.
	auth, err := passwordauth.New(passwordauth.Config{Store: store})
	if err != nil {
		return err
	}
	adm, err := admin.New(admin.Config{
		EnableLogin: true,
		Backend:     auth,
		Handler:     dash,
		Ready:       dash.Ready,
		Session:     admin.SessionConfig{Store: sessions},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	adm.Mount(mux)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Sign in at http://%s/asyncmq/login as admin\n", ln.Addr())
	if ready != nil {
		ready(ln.Addr())
	}
	return serve(ctx, ln, mux, dash)
}

// serve runs an HTTP server on ln until ctx ends, then shuts it down gracefully. The dashboard's
// Close is registered for the shutdown because it ends the live-update streams of open browser
// tabs, which would otherwise hold the shutdown to its timeout.
func serve(ctx context.Context, ln net.Listener, h http.Handler, dash *dashboard.Dashboard) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(dash.Close)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// More than 5 s: net/http waits that long before it treats a connection that was opened but
	// never sent a request as idle, and a client's connection pool can hold such connections.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
