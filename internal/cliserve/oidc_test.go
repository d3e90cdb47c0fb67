package cliserve

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend/sqlite"
	"github.com/asyncmq/asyncmq/internal/cli"
)

func validOIDC() Options {
	o := valid()
	o.Auth = AuthOIDC
	o.OIDCIssuer = "https://idp.example"
	o.OIDCClientID = "asyncmq"
	o.OIDCRedirectURL = "https://ops.example/asyncmq/oidc/callback"
	return o
}

func TestValidateOIDC(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{name: "valid", change: func(*Options) {}},
		{name: "role map", change: func(o *Options) { o.OIDCRoleMap = []string{"ops=operator", " root = admin "} }},
		{name: "no issuer", change: func(o *Options) { o.OIDCIssuer = "" }, wantErr: "--oidc-issuer (ASYNCMQ_OIDC_ISSUER): is required"},
		{name: "plain http issuer", change: func(o *Options) { o.OIDCIssuer = "http://idp.example" }, wantErr: "--oidc-issuer (ASYNCMQ_OIDC_ISSUER)"},
		{name: "no client", change: func(o *Options) { o.OIDCClientID = "" }, wantErr: "--oidc-client-id (ASYNCMQ_OIDC_CLIENT_ID)"},
		{name: "no redirect", change: func(o *Options) { o.OIDCRedirectURL = "" }, wantErr: "--oidc-redirect-url (ASYNCMQ_OIDC_REDIRECT_URL)"},
		{name: "redirect elsewhere", change: func(o *Options) { o.OIDCRedirectURL = "https://ops.example/callback" }, wantErr: "--oidc-redirect-url"},
		{name: "role map without =", change: func(o *Options) { o.OIDCRoleMap = []string{"ops"} }, wantErr: "--oidc-role-map (ASYNCMQ_OIDC_ROLE_MAP)"},
		{name: "role map unknown role", change: func(o *Options) { o.OIDCRoleMap = []string{"ops=root"} }, wantErr: "--oidc-role-map"},
		{name: "bad roles claim", change: func(o *Options) { o.OIDCRolesClaim = "a..b" }, wantErr: "--oidc-roles-claim"},
		{name: "bad domain", change: func(o *Options) { o.OIDCAllowedDomains = []string{"a@b"} }, wantErr: "--oidc-allowed-domains"},
		{name: "bad scope", change: func(o *Options) { o.OIDCScopes = []string{"a b"} }, wantErr: "--oidc-scopes"},
		{name: "bad required claim", change: func(o *Options) { o.OIDCRequiredClaim = "=x" }, wantErr: "--oidc-required-claim"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := validOIDC()
			tt.change(&o)
			err := o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cli.ExitCode(err) != cli.ExitUsage {
				t.Fatalf("Validate() = %v, want a usage error containing %q", err, tt.wantErr)
			}
		})
	}
}

// freeAddr returns a loopback address nobody listens on, so that the redirect URL can be
// registered at the provider before serve starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRunOIDC serves with --auth oidc against an in-process provider, signs in, and finds the
// sign-in (and a refused one) in the audit log.
func TestRunOIDC(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr + "/asyncmq"
	p, err := oidctest.Start(oidctest.Config{
		Users: []oidctest.User{
			{Subject: "ops-1", Password: "pw", Email: "ops@example.com", EmailVerified: true, Groups: []string{"ops"}},
			{Subject: "guest", Password: "pw", Email: "guest@elsewhere.example", EmailVerified: true},
		},
		Clients: []oidctest.Client{{ID: "asyncmq", Secret: "shh-secret", RedirectURIs: []string{base + "/oidc/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	dbPath := filepath.Join(t.TempDir(), "q.db")
	// serve without the demo works on an existing store only.
	if b, err := sqlite.Open(t.Context(), dbPath); err != nil {
		t.Fatal(err)
	} else if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	dbURL := "sqlite://" + dbPath
	var logs syncWriter
	o := Options{
		Addr: addr, Prefix: "/asyncmq", BackendURL: dbURL, Auth: AuthOIDC, Roles: true,
		OIDCIssuer: p.URL, OIDCClientID: "asyncmq", OIDCRedirectURL: base + "/oidc/callback",
		OIDCClientSecret: []byte("shh-secret"), OIDCRoleMap: []string{"ops=operator"}, OIDCProviderName: "Example SSO",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan struct{})
	o.OnListen = func(net.Addr) { close(listening) }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not listen within 30s")
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Sign in with Example SSO") {
		t.Fatalf("login page: %d %s", resp.StatusCode, page)
	}
	resp, err = p.SignIn(ctx, client, base+"/login", "", "ops-1", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/asyncmq/" {
		t.Fatalf("callback: %s Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard after sign-in: %s", resp.Status)
	}
	jar2, _ := cookiejar.New(nil)
	resp, err = p.SignIn(ctx, &http.Client{Jar: jar2, Timeout: 10 * time.Second}, base+"/login", "", "guest", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusForbidden || string(body) != "Dashboard user is not authorized" {
		t.Fatalf("guest callback: %s %q", resp.Status, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Contains(logs.String(), "shh-secret") {
		t.Fatal("the client secret was logged")
	}

	b, err := asyncmq.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	entries, err := asyncmq.NewInspector(b).Audit(context.Background(), asyncmqtype.AuditParams{Action: "auth.login"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Actor] = e.Status + " " + e.Source
	}
	if got["ops-1"] != "success oidc" || got["guest"] != "denied oidc" {
		t.Fatalf("audit log %+v, want ops-1 success and guest denied", entries)
	}
}

// syncWriter collects logs written from the server's goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
