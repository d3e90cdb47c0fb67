package e2e_test

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/internal/e2e"
)

// setupStack starts a stack without a worker and returns it with an HTTP client that does not
// follow redirects.
func setupStack(t *testing.T) (*e2e.Stack, *http.Client) {
	t.Helper()
	st, err := e2e.Start(t.Context(), e2e.Config{DBPath: filepath.Join(t.TempDir(), "asyncmq.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return st, c
}

// TestStackGate checks, without a browser, that the stack is wired as `asyncmq serve` is: JWT
// login with the cookie form, roles, strict headers.
func TestStackGate(t *testing.T) {
	t.Parallel()
	st, c := setupStack(t)
	token := func(p e2e.TokenParams) string {
		tok, err := st.Token(p)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name, method, path, auth, form string
		wantStatus                     int
		wantLocation, wantBody         string
		wantCookie                     bool
	}{
		{name: "anonymous is sent to the login page", method: "GET", path: "/",
			wantStatus: http.StatusSeeOther, wantLocation: e2e.Prefix + "/login?next=" + e2e.Prefix + "/"},
		{name: "login page offers the token form", method: "GET", path: "/login",
			wantStatus: http.StatusOK, wantBody: `name="token"`},
		{name: "operator sees the overview", method: "GET", path: "/",
			auth: token(e2e.TokenParams{Subject: "op", Roles: []string{"operator"}}), wantStatus: http.StatusOK,
			wantBody: `data-testid="overview-totals"`},
		{name: "user without a dashboard role is refused", method: "GET", path: "/",
			auth: token(e2e.TokenParams{Subject: "nobody"}), wantStatus: http.StatusForbidden},
		{name: "pasted token is kept in the cookie", method: "POST", path: "/login",
			form:       url.Values{"token": {token(e2e.TokenParams{Subject: "op", Roles: []string{"viewer"}})}, "next": {e2e.Prefix + "/queues"}}.Encode(),
			wantStatus: http.StatusSeeOther, wantLocation: e2e.Prefix + "/queues", wantCookie: true},
		{name: "pasted garbage is refused", method: "POST", path: "/login",
			form: url.Values{"token": {"not-a-token"}}.Encode(), wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, st.URL+tt.path, strings.NewReader(tt.form))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", "Bearer "+tt.auth)
			}
			if tt.form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body lacks %q:\n%s", tt.wantBody, body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != admin.DefaultContentSecurityPolicy {
				t.Errorf("Content-Security-Policy %q, want the strict default", got)
			}
			var cookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == e2e.CookieName {
					cookie = ck
				}
			}
			if tt.wantCookie != (cookie != nil) {
				t.Fatalf("token cookie set: %v, want %v", cookie != nil, tt.wantCookie)
			}
			if cookie != nil && (!cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != e2e.Prefix+"/") {
				t.Errorf("token cookie %v: want HttpOnly, SameSite=Strict, Path=%s/", cookie, e2e.Prefix)
			}
		})
	}
}

// TestStackOnBackendURL checks that Config.BackendURL serves the store it names: a job enqueued
// through the stack's client shows on the overview, and a bad URL is an error naming it.
func TestStackOnBackendURL(t *testing.T) {
	t.Parallel()
	st, err := e2e.Start(t.Context(), e2e.Config{BackendURL: "memory://"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := st.Client.Enqueue(t.Context(), "mail.send", map[string]string{"to": "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	tok, err := st.Token(e2e.TokenParams{Subject: "v", Roles: []string{"viewer"}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, st.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-total="jobs">1<`) {
		t.Errorf("overview: status %d, want 200 with a job total of 1:\n%s", resp.StatusCode, body)
	}

	if _, err := e2e.Start(t.Context(), e2e.Config{BackendURL: "nosuch://x"}); err == nil || !strings.Contains(err.Error(), "nosuch://x") {
		t.Errorf("Start with an unknown scheme: error %v, want one naming the URL", err)
	}
}
