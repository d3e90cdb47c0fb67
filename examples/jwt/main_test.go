package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/jwtauth"
)

var secret = []byte("example-secret-of-at-least-32-bytes!!")

// lockedBuffer lets the test read what the server goroutine prints.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// setup starts the example on a free port and returns its base URL and what it printed.
func setup(t *testing.T) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", secret, out, func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-addrc:
		return "http://" + a.String(), out
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not listen within 30s")
	}
	return "", nil
}

func get(t *testing.T, url, authorization string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}

func TestJWTExample(t *testing.T) {
	t.Parallel()
	base, out := setup(t)

	// The printed header line is what the README tells the reader to paste into curl.
	var header string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "Authorization: Bearer ") {
			header = strings.TrimPrefix(line, "Authorization: ")
		}
	}
	if header == "" {
		t.Fatalf("the example printed no token:\n%s", out.String())
	}

	tests := []struct {
		name         string
		path         string
		auth         string
		wantStatus   int
		wantLocation string
		wantBody     string
	}{
		{name: "printed token opens the dashboard", path: "/asyncmq/", auth: header, wantStatus: 200, wantBody: "Dashboard"},
		{name: "no token redirects to login", path: "/asyncmq/", wantStatus: 303, wantLocation: "/asyncmq/login?next=/asyncmq/"},
		{name: "wrong audience is refused", path: "/asyncmq/", auth: "Bearer " + issue(t, "someone-else"), wantStatus: 303, wantLocation: "/asyncmq/login?next=/asyncmq/"},
		{name: "application route is untouched", path: "/", wantStatus: 200, wantBody: "Hello from the application"},
		{name: "health is open", path: "/asyncmq/health", wantStatus: 200, wantBody: `"status":"ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := get(t, base+tt.path, tt.auth)
			if status != tt.wantStatus || h.Get("Location") != tt.wantLocation || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("GET %s = %d, Location %q, body %.120q; want %d, %q, containing %q",
					tt.path, status, h.Get("Location"), body, tt.wantStatus, tt.wantLocation, tt.wantBody)
			}
		})
	}
}

func issue(t *testing.T, aud string) string {
	t.Helper()
	tok, err := jwtauth.Issue(jwtauth.IssueParams{Subject: "user-1", Audience: aud, Issuer: issuer, TTL: time.Minute, Admin: true}, "HS256", secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
