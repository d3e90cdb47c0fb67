package main

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
)

func TestServeOIDCRefusesBadSettings(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth", "oidc"}, "--oidc-issuer (ASYNCMQ_OIDC_ISSUER): is required"},
		{[]string{"--auth", "oidc", "--oidc-issuer", "https://idp.example"}, "--oidc-client-id (ASYNCMQ_OIDC_CLIENT_ID)"},
		{[]string{"--auth", "oidc", "--oidc-issuer", "https://idp.example", "--oidc-client-id", "c", "--oidc-redirect-url", "https://ops.example/cb"}, "--oidc-redirect-url (ASYNCMQ_OIDC_REDIRECT_URL)"},
		{[]string{"--auth", "oidc", "--oidc-issuer", "https://idp.example", "--oidc-client-id", "c", "--oidc-redirect-url", "https://ops.example/asyncmq/oidc/callback", "--oidc-role-map", "ops"}, "--oidc-role-map (ASYNCMQ_OIDC_ROLE_MAP)"},
		{[]string{"--auth", "oidc", "--oidc-client-secret-file", filepath.Join(f.dir, "missing")}, "--oidc-client-secret-file"},
		{[]string{"--auth", "oidc", "--oidc-client-secret", "x"}, "unknown flag: --oidc-client-secret"},
	} {
		r := f.run(append([]string{"serve", "--workers", "0"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %s: exit %d, stderr %q; want exit 2 naming %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// TestServeOIDC configures serve from ASYNCMQ_* variables alone, the secret from a file, and
// signs in through the in-process provider.
func TestServeOIDC(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr + "/asyncmq"
	p, err := oidctest.Start(oidctest.Config{
		Users:   []oidctest.User{{Subject: "root", Password: "pw", Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"admins"}}}}},
		Clients: []oidctest.Client{{ID: "dash", Secret: "file-secret", RedirectURIs: []string{base + "/oidc/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	f := setup(t)
	secretFile := filepath.Join(f.dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"ASYNCMQ_AUTH":                    "oidc",
		"ASYNCMQ_OIDC_ISSUER":             p.URL,
		"ASYNCMQ_OIDC_CLIENT_ID":          "dash",
		"ASYNCMQ_OIDC_REDIRECT_URL":       base + "/oidc/callback",
		"ASYNCMQ_OIDC_ROLES_CLAIM":        "realm_access.roles",
		"ASYNCMQ_OIDC_ROLE_MAP":           "admins=admin",
		"ASYNCMQ_OIDC_PROVIDER_NAME":      "Corp SSO",
		"ASYNCMQ_OIDC_CLIENT_SECRET_FILE": secretFile,
		"ASYNCMQ_OIDC_CLIENT_SECRET":      "ignored-because-the-file-wins",
	} {
		f.env[k] = v
	}
	s := f.serve("--workers", "0", "--addr", addr)
	if out := s.out.String(); !strings.Contains(out, "Sign in with Corp SSO") {
		t.Errorf("banner %q does not say how to sign in", out)
	}
	res, body := get(t, s.url+"/asyncmq/login", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Sign in with Corp SSO") {
		t.Fatalf("login page: %d %q", res.StatusCode, body)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: noRedirect.CheckRedirect}
	resp, err := p.SignIn(context.Background(), client, base+"/login", "/asyncmq/queues", "root", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/asyncmq/queues" {
		t.Fatalf("callback: %s Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = client.Get(base + "/queues")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queues page after sign-in: %s", resp.Status)
	}
	if s.stop() != 0 {
		t.Fatalf("serve exit\nstderr: %s", s.errOut.String())
	}
	for _, out := range []string{s.out.String(), s.errOut.String()} {
		if strings.Contains(out, "file-secret") || strings.Contains(out, "ignored-because") {
			t.Fatal("the client secret was printed")
		}
	}
}
