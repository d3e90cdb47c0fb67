package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const password = "correct horse battery staple"

// setup starts the example on a free port with a fresh database and returns its base URL.
func setup(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "example.db")
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", db, password, io.Discard, func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-addrc:
		return "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not listen within 30s")
	}
	return ""
}

// newClient returns a browser-like client: a cookie jar, redirects shown rather than followed.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func login(t *testing.T, c *http.Client, base, user, pass string) *http.Response {
	t.Helper()
	form := url.Values{"username": {user}, "password": {pass}, "next": {"/asyncmq/queues"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/asyncmq/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base) // what a browser sends with the form
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func TestPasswordExample(t *testing.T) {
	t.Parallel()
	base := setup(t)

	// Signed out: the dashboard redirects to the login form.
	anon := newClient(t)
	if status, _ := get(t, anon, base+"/asyncmq/"); status != http.StatusSeeOther {
		t.Fatalf("anonymous GET = %d, want 303", status)
	}

	// A wrong password is refused and grants no session.
	bad := newClient(t)
	if res := login(t, bad, base, "admin", "wrong password"); res.StatusCode == http.StatusSeeOther {
		t.Fatalf("login with a wrong password = 303 to %q, want a refusal", res.Header.Get("Location"))
	}
	if status, _ := get(t, bad, base+"/asyncmq/"); status != http.StatusSeeOther {
		t.Fatalf("after a failed login GET = %d, want 303", status)
	}

	// The right password signs in and returns to the requested page.
	c := newClient(t)
	res := login(t, c, base, "admin", password)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/asyncmq/queues" {
		t.Fatalf("login = %d to %q, want 303 to /asyncmq/queues", res.StatusCode, res.Header.Get("Location"))
	}
	if status, body := get(t, c, base+"/asyncmq/"); status != http.StatusOK || !strings.Contains(body, "Dashboard") {
		t.Fatalf("signed-in GET = %d %.120q", status, body)
	}
}
