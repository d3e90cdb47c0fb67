// Command proxy-header serves the asyncmq dashboard behind an authenticating reverse proxy that
// injects the user's identity in headers, as oauth2-proxy does. See README.md.
//
//	go run ./examples/proxy-header
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/proxyauth"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/dashboard"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address of the dashboard itself (untrusted: identity headers are ignored)")
	proxyAddr := flag.String("proxy-addr", "127.0.0.1:8080", "address of the toy authenticating proxy")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *proxyAddr, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the dashboard on addr and on a Unix socket, and the toy proxy on proxyAddr, until
// ctx ends. ready receives the dashboard's and the proxy's addresses.
func run(ctx context.Context, addr, proxyAddr string, out io.Writer, ready func(dashboard, proxy net.Addr)) error {
	b := memory.New()
	defer b.Close()
	dash, err := dashboard.New(asyncmq.NewInspector(b), dashboard.Config{})
	if err != nil {
		return err
	}
	defer dash.Close()

	// Identity headers are believed only from peers on the Unix socket, where only the proxy
	// connects. A TCP deployment lists the proxy's IPs or CIDRs instead ("10.0.0.0/8"); never
	// X-Forwarded-For, which any client can send.
	trusted := []string{"unix"}
	auth, err := proxyauth.New(proxyauth.Config{
		TrustedProxies: trusted,
		Headers:        proxyauth.OAuth2Proxy, // X-Forwarded-User, -Email, -Groups
		AdminGroups:    []string{"asyncmq-admins"},
	})
	if err != nil {
		return err
	}
	adm, err := admin.New(admin.Config{
		EnableLogin:    true,
		Backend:        auth,
		Handler:        dash,
		Ready:          dash.Ready,
		TrustedProxies: trusted, // also believe the proxy's X-Forwarded-Host and -Proto
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	adm.Mount(mux)

	dir, err := os.MkdirTemp("", "asyncmq-proxy-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "dashboard.sock")

	direct, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	private, err := net.Listen("unix", sock)
	if err != nil {
		direct.Close()
		return err
	}
	front, err := net.Listen("tcp", proxyAddr)
	if err != nil {
		direct.Close()
		private.Close()
		return err
	}
	fmt.Fprintf(out, "Through the proxy: http://%s/asyncmq/ (user alice, password wonderland; bob/builder is not an admin)\n", front.Addr())
	fmt.Fprintf(out, "Direct, untrusted: http://%s/asyncmq/\n", direct.Addr())
	if ready != nil {
		ready(direct.Addr(), front.Addr())
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- serve(ctx, direct, mux, dash) }()
	go func() { errc <- serve(ctx, private, mux, dash) }()
	proxy, closeProxy := toyProxy(sock)
	go func() { <-ctx.Done(); closeProxy() }() // so the dashboard's shutdown need not wait for them
	go func() { errc <- serve(ctx, front, proxy, dash) }()
	var first error
	for range 3 {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// account is a user of the toy proxy.
type account struct {
	password, email, groups string
}

// accounts stand in for the identity provider behind a real proxy such as oauth2-proxy.
var accounts = map[string]account{
	"alice": {password: "wonderland", email: "alice@example.com", groups: "asyncmq-admins,engineering"},
	"bob":   {password: "builder", email: "bob@example.com", groups: "support"},
}

// identityHeaders are the headers the proxy owns: it deletes whatever the client sent in them.
var identityHeaders = []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Authenticated-User"}

// toyProxy authenticates with HTTP Basic and forwards to the dashboard's Unix socket with the
// user's identity in oauth2-proxy's headers. The returned func closes its idle connections to the
// dashboard.
func toyProxy(sock string) (http.Handler, func()) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: "dashboard"})
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host // the dashboard sees the public host for its same-origin check
		},
		Transport: tr,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		acct, known := accounts[user]
		if !ok || !known || subtle.ConstantTimeCompare([]byte(pass), []byte(acct.password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="asyncmq example proxy"`)
			http.Error(w, "proxy: sign in", http.StatusUnauthorized)
			return
		}
		r = r.Clone(r.Context())
		for _, h := range identityHeaders {
			r.Header.Del(h)
		}
		r.Header.Del("Authorization")
		r.Header.Set("X-Forwarded-User", user)
		r.Header.Set("X-Forwarded-Email", acct.email)
		r.Header.Set("X-Forwarded-Groups", acct.groups)
		rp.ServeHTTP(w, r)
	}), tr.CloseIdleConnections
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
