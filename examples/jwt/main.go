// Command jwt mounts the asyncmq dashboard in an application behind JWT bearer authentication,
// issues a token for it, and serves until interrupted. See README.md.
//
//	ASYNCMQ_JWT_SECRET=$(openssl rand -base64 32) go run ./examples/jwt
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

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/dashboard"
)

// The claims both sides agree on, as in the seed's example.
const (
	audience = "asyncmq-admin"
	issuer   = "https://issuer.example"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	flag.Parse()
	secret := os.Getenv("ASYNCMQ_JWT_SECRET")
	if secret == "" {
		log.Fatal("set ASYNCMQ_JWT_SECRET to at least 32 random bytes, e.g. $(openssl rand -base64 32)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, []byte(secret), os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the application on addr until ctx ends. It prints a token and the curl command to
// use it to out, and reports the listening address to ready (tests listen on port 0).
func run(ctx context.Context, addr string, secret []byte, out io.Writer, ready func(net.Addr)) error {
	// The job store. A real application uses asyncmq.Open(ctx, "sqlite://app.db") and runs
	// workers; an in-memory store with one job keeps the example small.
	b := memory.New()
	defer b.Close()
	if _, err := asyncmq.NewClient(b).Enqueue(ctx, "email.send", map[string]string{"to": "ada@example.com"}); err != nil {
		return err
	}

	dash, err := dashboard.New(asyncmq.NewInspector(b), dashboard.Config{})
	if err != nil {
		return err
	}
	defer dash.Close()

	// The JWT backend: HS256 with a shared secret, checking audience and issuer. Tokens come in
	// the Authorization header; CookieName also lets a browser paste one into the login page.
	auth, err := jwtauth.New(ctx, jwtauth.Config{
		Secret:     secret,
		Audience:   audience,
		Issuer:     issuer,
		CookieName: "asyncmq_token",
	})
	if err != nil {
		return err
	}
	defer auth.Verifier().Close()

	adm, err := admin.New(admin.Config{
		EnableLogin: true,
		Backend:     auth,
		Handler:     dash,
		Ready:       dash.Ready,
	})
	if err != nil {
		return err
	}

	// The application's own routes, with the dashboard mounted at /asyncmq beside them.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Hello from the application. The dashboard is at /asyncmq/.")
	})
	adm.Mount(mux)

	// Issuing a token, as an identity service would: subject, name, audience, issuer, expiry
	// and roles.
	token, err := jwtauth.Issue(jwtauth.IssueParams{
		Subject:  "user-1234",
		Name:     "Alice",
		Audience: audience,
		Issuer:   issuer,
		TTL:      time.Hour,
		Roles:    []string{"admin"},
	}, "HS256", secret)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/asyncmq/"
	fmt.Fprintf(out, "Dashboard: %s\n\nAuthorization: Bearer %s\n\ncurl -H 'Authorization: Bearer %s' %s\n",
		url, token, token, url)
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
