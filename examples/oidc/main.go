// Command oidc serves the asyncmq dashboard behind single sign-on with OpenID Connect, against
// an identity provider that runs in the same process so that the example needs nothing else.
// See README.md.
//
//	go run ./examples/oidc
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

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/oidcauth"
	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/dashboard"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address the dashboard listens on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// The provider's accounts. A real deployment has these in Okta, Entra ID, Keycloak…; here the
// group names show the mapping from the provider's groups to the dashboard's roles.
var people = []oidctest.User{
	{Subject: "alice", Name: "Alice Admin", Email: "alice@example.com", EmailVerified: true, Groups: []string{"platform-admins"}},
	{Subject: "oscar", Name: "Oscar Operator", Email: "oscar@example.com", EmailVerified: true, Groups: []string{"on-call"}},
	{Subject: "vera", Name: "Vera Viewer", Email: "vera@example.com", EmailVerified: true},
	{Subject: "eve", Name: "Eve Outsider", Email: "eve@elsewhere.example", EmailVerified: true, Groups: []string{"marketing"}},
}

// Password is every example account's password.
const Password = "example-password"

// run serves the dashboard on addr until ctx ends, with an in-process provider on another
// loopback port. ready, when set, is told the dashboard's URL and the provider once both
// accept connections.
func run(ctx context.Context, addr string, out io.Writer, ready func(dashboardURL string, idp *oidctest.Provider)) error {
	// Listen first: the callback URL, which the provider must know, names the dashboard's port.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String() + "/asyncmq"

	users := append([]oidctest.User(nil), people...)
	for i := range users {
		users[i].Password = Password
	}
	clientSecret := rand.Text()
	idp, err := oidctest.Start(oidctest.Config{
		Users: users,
		Clients: []oidctest.Client{{
			ID:                     "asyncmq-dashboard",
			Secret:                 clientSecret,
			RedirectURIs:           []string{base + oidcauth.CallbackPath},
			PostLogoutRedirectURIs: []string{base + "/login"},
		}},
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer idp.Close()

	b := memory.New()
	defer b.Close()
	insp := asyncmq.NewInspector(b)
	dash, err := dashboard.New(insp, dashboard.Config{Roles: true})
	if err != nil {
		ln.Close()
		return err
	}
	defer dash.Close()

	// Single sign-on: discovery from the issuer, the code flow with PKCE, state and nonce,
	// roles from the "groups" claim, anyone at example.com admitted as a viewer, and every
	// sign-in, admitted or not, written to the dashboard's audit log.
	auth, err := oidcauth.New(ctx, oidcauth.Config{
		Issuer:         idp.URL,
		ClientID:       "asyncmq-dashboard",
		ClientSecret:   clientSecret,
		RedirectURL:    base + oidcauth.CallbackPath,
		Scopes:         []string{"openid", "profile", "email", "offline_access"},
		ProviderName:   "Example IdP",
		RolesClaim:     "groups",
		RoleMap:        map[string]string{"platform-admins": "admin", "on-call": "operator"},
		AllowedDomains: []string{"example.com"},
		Audit: func(ctx context.Context, e oidcauth.AuditEvent) {
			_, _ = insp.RecordAudit(ctx, asyncmqtype.AuditEntry{Actor: e.Actor, Action: e.Action, Status: e.Status, Source: "oidc", Detail: e.Detail})
		},
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer auth.Close()

	adm, err := admin.New(admin.Config{
		EnableLogin: true,
		Backend:     auth,
		Handler:     dash,
		Ready:       dash.Ready,
		// Every dashboard role may pass the gate; the dashboard checks each action's role.
		RequireAdmin:  new(false),
		RequiredRoles: []string{"viewer", "operator", "admin"},
	})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	adm.Mount(mux)

	fmt.Fprintf(out, "Dashboard: %s/ (sign in as alice, oscar, vera or eve; password %q)\n", base, Password)
	fmt.Fprintf(out, "Identity provider: %s\n", idp.URL)
	if ready != nil {
		ready(base, idp)
	}
	return serve(ctx, ln, mux, dash)
}

// serve runs an HTTP server on ln until ctx ends, then shuts it down gracefully.
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
