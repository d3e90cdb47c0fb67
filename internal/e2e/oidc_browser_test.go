package e2e_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
	"github.com/asyncmq/asyncmq/internal/cliserve"
)

// TestBrowserOIDCSignIn runs what `asyncmq serve --auth oidc` runs, against the in-process
// provider of examples/oidc, and walks a user through single sign-on in Chromium: the login
// page's "Sign in with …" button, the provider's sign-in page, the dashboard with the role the
// provider's group maps to, and sign-out through the provider's end_session_endpoint back to the
// login page.
func TestBrowserOIDCSignIn(t *testing.T) {
	t.Parallel()
	chromium := os.Getenv("ASYNCMQ_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("ASYNCMQ_TEST_CHROMIUM is unset; set it to a Chromium binary (Debian: /usr/bin/chromium, which .ci/run installs and sets) to run the browser tests")
	}

	// The callback URL names the dashboard's port, so the port is chosen before the provider
	// is told of it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr + "/asyncmq"
	idp, err := oidctest.Start(oidctest.Config{
		Users: []oidctest.User{{
			Subject: "olga", Password: "olga-password", Name: "Olga Operator",
			Email: "olga@example.com", EmailVerified: true, Groups: []string{"on-call"},
		}},
		Clients: []oidctest.Client{{
			ID: "asyncmq-dashboard", Secret: "e2e-client-secret",
			RedirectURIs:           []string{base + "/oidc/callback"},
			PostLogoutRedirectURIs: []string{base + "/login"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })

	// serve without --demo reads an existing store and refuses to create one, as a user's
	// would be there already.
	storeURL := "sqlite://" + filepath.Join(t.TempDir(), "asyncmq.db")
	store, err := asyncmq.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan struct{})
	// done is closed once serve has returned; serveErr holds what it returned.
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer close(done)
		serveErr = cliserve.Run(ctx, cliserve.Options{
			Addr: addr, Prefix: "/asyncmq", BackendURL: storeURL,
			Auth: cliserve.AuthOIDC, Roles: true,
			OIDCIssuer: idp.URL, OIDCClientID: "asyncmq-dashboard", OIDCClientSecret: []byte("e2e-client-secret"),
			OIDCRedirectURL: base + "/oidc/callback", OIDCScopes: []string{"openid", "profile", "email", "offline_access"},
			OIDCRoleMap: []string{"on-call=operator"}, OIDCProviderName: "Example IdP",
			Logger:   slog.New(slog.DiscardHandler),
			OnListen: func(net.Addr) { close(listening) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if serveErr != nil && ctx.Err() == nil {
				t.Errorf("serve: %v", serveErr)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of its context ending")
		}
	})
	select {
	case <-listening:
	case <-done:
		t.Fatalf("serve stopped before listening: %v", serveErr)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not listen within 30s")
	}

	b := launchBrowser(t, chromium, nil)
	// The login form's button; the dashboard's sign-out form has a submit button too, so the
	// selector names the form's target.
	signIn := `form[action^="/asyncmq/login"] button[type="submit"]`
	b.do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(signIn)))
	if got := b.location(); got.Path != "/asyncmq/login" || got.Query().Get("next") != "/asyncmq/" {
		t.Errorf("anonymous visit landed on %s, want /asyncmq/login?next=/asyncmq/", got)
	}
	if got := b.text(signIn); got != "Sign in with Example IdP" {
		t.Errorf("sign-in button says %q", got)
	}
	b.screenshot("oidc-01-login")

	b.do("press the sign-in button", chromedp.Click(chromedp.CSS(signIn)), chromedp.WaitVisible(chromedp.CSS("#username")))
	if got := b.location(); !strings.HasPrefix(got.String(), idp.URL+"/login?") {
		t.Errorf("the button led to %s, want the provider's sign-in page", got)
	}
	b.screenshot("oidc-02-provider")

	b.do("sign in at the provider",
		chromedp.SetValue(chromedp.CSS("#username"), "olga"),
		chromedp.SetValue(chromedp.CSS("#password"), "olga-password"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="current-user"]`)),
	)
	if got := b.location(); got.RequestURI() != "/asyncmq/" {
		t.Errorf("after signing in the page is %s, want /asyncmq/", got)
	}
	if got := b.text(`[data-testid="current-user"]`); !strings.Contains(got, "Olga Operator") || !strings.Contains(got, "operator") {
		t.Errorf("signed-in user shows as %q, want Olga Operator with the operator role", got)
	}
	b.screenshot("oidc-03-dashboard")

	b.do("sign out",
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(signIn)),
	)
	if got := b.location(); got.String() != base+"/login" {
		t.Errorf("after signing out the page is %s, want %s/login", got, base)
	}
	if n := idp.Logouts(); n != 1 {
		t.Errorf("the provider ended %d sessions, want 1", n)
	}
	b.do("open the dashboard again", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(signIn)))
	if got := b.location(); got.Path != "/asyncmq/login" {
		t.Errorf("after signing out the dashboard sent the browser to %s, want the login page", got)
	}
	if problems := b.consoleProblems(); len(problems) > 0 {
		t.Errorf("console problems:\n%s", strings.Join(problems, "\n"))
	}
}
