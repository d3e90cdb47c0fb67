package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
)

type dsnError struct{ dsn string }

func (e *dsnError) Error() string { return "connect " + e.dsn + ": refused" }

func TestProbes(t *testing.T) {
	t.Parallel()
	failing := func(err error) func(*admin.Config) {
		return func(c *admin.Config) { c.Ready = func(context.Context) error { return err } }
	}
	tests := []struct {
		name     string
		cfg      func(*admin.Config)
		method   string
		path     string
		wantCode int
		wantBody string
	}{
		{name: "health outside the gate", path: "/asyncmq/health", wantCode: 200, wantBody: `{"status":"ok","service":"asyncmq-dashboard"}`},
		{name: "health HEAD", method: "HEAD", path: "/asyncmq/health", wantCode: 200},
		{name: "health POST", method: "POST", path: "/asyncmq/health", wantCode: http.StatusMethodNotAllowed},
		{name: "ready without a check", path: "/asyncmq/ready", wantCode: 200, wantBody: `{"status":"ok"}`},
		{name: "ready ok", cfg: failing(nil), path: "/asyncmq/ready", wantCode: 200, wantBody: `{"status":"ok"}`},
		{
			name: "ready failure names the class only", path: "/asyncmq/ready", wantCode: 503,
			cfg:      failing(fmt.Errorf("ping backend: %w", &dsnError{dsn: "postgres://app:hunter2@db/asyncmq"})),
			wantBody: `{"status":"error","error":"admin_test.dsnError"}`,
		},
		{
			name: "ready timeout", path: "/asyncmq/ready", wantCode: 503,
			cfg:      failing(fmt.Errorf("ping: %w", context.DeadlineExceeded)),
			wantBody: `{"status":"error","error":"timeout"}`,
		},
		{
			name: "ready plain error", path: "/asyncmq/ready", wantCode: 503,
			cfg:      failing(errors.New("password=hunter2 rejected")),
			wantBody: `{"status":"error","error":"error"}`,
		},
		{name: "healthz is gated", path: "/asyncmq/healthz", wantCode: http.StatusSeeOther},
		{name: "health subpath is gated", path: "/asyncmq/health/x", wantCode: http.StatusSeeOther},
		{name: "health with trailing slash is gated", path: "/asyncmq/health/", wantCode: http.StatusSeeOther},
		{name: "ready subpath is gated", path: "/asyncmq/ready/now", wantCode: http.StatusSeeOther},
		{name: "health outside the prefix is not ours", path: "/health", wantCode: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			method := tt.method
			if method == "" {
				method = "GET"
			}
			res := serve(t, b.handler, request(method, tt.path))
			if res.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (%q)", res.code, tt.wantCode, res.body)
			}
			if tt.wantBody != "" {
				if res.body != tt.wantBody {
					t.Errorf("body = %s, want %s", res.body, tt.wantBody)
				}
				if ct := res.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if strings.Contains(res.body, "hunter2") {
				t.Errorf("probe leaks a secret: %s", res.body)
			}
		})
	}
}

func TestReadyHasDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) {
		c.Ready = func(ctx context.Context) error {
			deadline, ok := ctx.Deadline()
			if !ok || time.Until(deadline) > 5*time.Second {
				return errors.New("no 5s deadline")
			}
			return nil
		}
	})
	if res := serve(t, b.handler, request("GET", "/asyncmq/ready")); res.code != http.StatusOK {
		t.Fatalf("status = %d (%s)", res.code, res.body)
	}
}

func TestHealthNeverCallsReady(t *testing.T) {
	t.Parallel()
	calls := 0
	b := setup(t, func(c *admin.Config) {
		c.Ready = func(context.Context) error { calls++; return nil }
	})
	serve(t, b.handler, request("GET", "/asyncmq/health"))
	if calls != 0 {
		t.Fatalf("health called Ready %d times", calls)
	}
	serve(t, b.handler, request("GET", "/asyncmq/ready"))
	if calls != 1 {
		t.Fatalf("ready called Ready %d times, want 1", calls)
	}
}
