// Command jwt-db mounts the asyncmq dashboard behind a JWT that must also name an existing,
// active admin in the application's users table, so that disabling a user locks them out on
// their next request. See README.md.
//
//	ASYNCMQ_JWT_SECRET=$(openssl rand -base64 32) go run ./examples/jwt-db
package main

import (
	"context"
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

	_ "modernc.org/sqlite" // the users table lives in SQLite here; import pgx's stdlib for PostgreSQL

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/dbauth"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/dashboard"
)

const (
	audience = "asyncmq-admin"
	issuer   = "https://issuer.example"
)

// demoUsers are created on first start: an admin, a user who is not an admin, and an admin
// whose account is disabled.
var demoUsers = []users.User{
	{ID: "alice", DisplayName: "Alice", Email: "alice@example.com", Active: true, Admin: true},
	{ID: "bob", DisplayName: "Bob", Email: "bob@example.com", Active: true, Roles: []string{"viewer"}},
	{ID: "carol", DisplayName: "Carol", Email: "carol@example.com", Active: false, Admin: true},
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	db := flag.String("db", "asyncmq-example.db", "SQLite file holding the users table")
	flag.Parse()
	secret := os.Getenv("ASYNCMQ_JWT_SECRET")
	if secret == "" {
		log.Fatal("set ASYNCMQ_JWT_SECRET to at least 32 random bytes, e.g. $(openssl rand -base64 32)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *db, []byte(secret), os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the dashboard on addr until ctx ends, with users in the SQLite file dbPath.
func run(ctx context.Context, addr, dbPath string, secret []byte, out io.Writer, ready func(net.Addr)) error {
	// The users table: asyncmq's own schema here. users.WithMapping points the store at an
	// existing table with other column names instead.
	store, err := users.OpenSQL(ctx, "sqlite", dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, u := range demoUsers {
		if _, err := store.Create(ctx, u); err != nil && !errors.Is(err, users.ErrUserExists) {
			return err
		}
	}

	b := memory.New()
	defer b.Close()
	dash, err := dashboard.New(asyncmq.NewInspector(b), dashboard.Config{})
	if err != nil {
		return err
	}
	defer dash.Close()

	// The seed's JWTWithDBAuthBackend: verify the token, then load its "sub" from the store and
	// require an active admin. Lookups are live, so a change in the table counts at once.
	auth, err := dbauth.New(ctx, dbauth.Config{
		JWT:          jwtauth.Config{Secret: secret, Audience: audience, Issuer: issuer},
		Store:        store,
		RequireAdmin: true,
	})
	if err != nil {
		return err
	}

	adm, err := admin.New(admin.Config{EnableLogin: true, Backend: auth, Handler: dash, Ready: dash.Ready})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	adm.Mount(mux)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/asyncmq/"
	fmt.Fprintf(out, "Dashboard: %s\n\n", url)
	for _, u := range demoUsers {
		tok, err := jwtauth.Issue(jwtauth.IssueParams{Subject: u.ID, Audience: audience, Issuer: issuer, TTL: time.Hour}, "HS256", secret)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s (active=%v, admin=%v)\ncurl -i -H 'Authorization: Bearer %s' %s\n\n", u.ID, u.Active, u.Admin, tok, url)
	}
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
