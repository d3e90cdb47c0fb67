package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
)

// setup starts the example on a free port and returns the dashboard's base URL and the provider.
func setup(t *testing.T) (string, *oidctest.Provider) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct {
		dash string
		idp  *oidctest.Provider
	}
	ready := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", io.Discard, func(d string, i *oidctest.Provider) { ready <- addrs{d, i} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-ready:
		return a.dash, a.idp
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not listen within 30s")
	}
	return "", nil
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, target string) (int, http.Header, string) {
	t.Helper()
	res, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}

func TestOIDCExample(t *testing.T) {
	t.Parallel()
	base, idp := setup(t)

	c := newClient(t)
	if code, h, _ := get(t, c, base+"/queues"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/asyncmq/login?next=") {
		t.Fatalf("signed out: %d Location %q, want 303 to the login page", code, h.Get("Location"))
	}
	if code, _, body := get(t, c, base+"/login"); code != http.StatusOK || !strings.Contains(body, "Sign in with Example IdP") {
		t.Fatalf("login page: %d %q", code, body)
	}

	for _, tc := range []struct {
		user     string
		status   int
		location string
	}{
		{"alice", http.StatusSeeOther, "/asyncmq/queues"},
		{"oscar", http.StatusSeeOther, "/asyncmq/queues"},
		{"vera", http.StatusSeeOther, "/asyncmq/queues"},
		{"eve", http.StatusForbidden, ""},
	} {
		c := newClient(t)
		res, err := idp.SignIn(context.Background(), c, base+"/login", "/asyncmq/queues", tc.user, Password)
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		if res.StatusCode != tc.status || res.Header.Get("Location") != tc.location {
			t.Fatalf("%s: callback %s Location %q, want %d %q", tc.user, res.Status, res.Header.Get("Location"), tc.status, tc.location)
		}
		if tc.status != http.StatusSeeOther {
			continue
		}
		if code, _, body := get(t, c, base+"/queues"); code != http.StatusOK || !strings.Contains(body, "Queues") {
			t.Fatalf("%s: queues page %d", tc.user, code)
		}
	}

	// The audit log shows the refused sign-in, to an admin.
	c = newClient(t)
	if _, err := idp.SignIn(context.Background(), c, base+"/login", "", "alice", Password); err != nil {
		t.Fatal(err)
	}
	code, _, body := get(t, c, base+"/audit?action="+url.QueryEscape("auth.login"))
	if code != http.StatusOK || !strings.Contains(body, "eve") || !strings.Contains(body, "denied") {
		t.Fatalf("audit page: %d, eve's refused sign-in missing", code)
	}

	// Sign out: the session ends here and at the provider, which sends the browser back to the
	// login page.
	req, _ := http.NewRequest(http.MethodPost, base+"/logout", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	end := oidctest.Next(res)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(end, idp.URL+"/end_session?") {
		t.Fatalf("logout: %s, continuing to %q", res.Status, end)
	}
	code, h, _ := get(t, c, end)
	if code != http.StatusFound || h.Get("Location") != base+"/login" {
		t.Fatalf("end session: %d Location %q, want 302 to the login page", code, h.Get("Location"))
	}
	if code, _, _ := get(t, c, base+"/queues"); code != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d, want 303", code)
	}
}
