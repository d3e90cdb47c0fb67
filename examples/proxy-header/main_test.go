package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// setup starts the example on free ports and returns the direct and the proxied base URLs.
func setup(t *testing.T) (direct, proxied string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ d, p net.Addr }
	addrc := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", "127.0.0.1:0", io.Discard, func(d, p net.Addr) { addrc <- addrs{d, p} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-addrc:
		return "http://" + a.d.String(), "http://" + a.p.String()
	case err := <-done:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("example did not listen within 30s")
	}
	return "", ""
}

func TestProxyHeaderExample(t *testing.T) {
	t.Parallel()
	direct, proxied := setup(t)

	tests := []struct {
		name         string
		url          string
		user, pass   string
		headers      map[string]string
		wantStatus   int
		wantLocation string
		wantBody     string
	}{
		{name: "admin through the proxy", url: proxied + "/asyncmq/", user: "alice", pass: "wonderland", wantStatus: 200, wantBody: "Dashboard"},
		{name: "non-admin through the proxy", url: proxied + "/asyncmq/", user: "bob", pass: "builder", wantStatus: 403, wantBody: "Dashboard user is not authorized"},
		{name: "wrong password stops at the proxy", url: proxied + "/asyncmq/", user: "alice", pass: "guess", wantStatus: 401},
		{name: "header forged through the proxy is replaced", url: proxied + "/asyncmq/", user: "bob", pass: "builder", headers: map[string]string{"X-Forwarded-Groups": "asyncmq-admins"}, wantStatus: 403},
		{name: "header forged straight to the dashboard is ignored", url: direct + "/asyncmq/", headers: map[string]string{"X-Forwarded-User": "alice", "X-Forwarded-Groups": "asyncmq-admins"}, wantStatus: 303, wantLocation: "/asyncmq/login?next=/asyncmq/"},
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(client.CloseIdleConnections) // runs before setup's shutdown
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus || res.Header.Get("Location") != tt.wantLocation || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("GET %s = %d, Location %q, body %.120q; want %d, %q, containing %q",
					tt.url, res.StatusCode, res.Header.Get("Location"), body, tt.wantStatus, tt.wantLocation, tt.wantBody)
			}
		})
	}
}
