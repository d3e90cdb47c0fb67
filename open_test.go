package asyncmq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestParseBackendURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		kind    string
		path    string
		wantErr string
	}{
		{url: "memory://", kind: "memory"},
		{url: "MEMORY://", kind: "memory"},
		{url: DefaultBackendURL, kind: "sqlite", path: "asyncmq.db"},
		{url: "sqlite://data/jobs.db", kind: "sqlite", path: "data/jobs.db"},
		{url: "sqlite:///var/lib/asyncmq.db", kind: "sqlite", path: "/var/lib/asyncmq.db"},
		{url: "sqlite://my%20jobs.db", kind: "sqlite", path: "my%20jobs.db"},
		{url: "", wantErr: "no scheme"},
		{url: "asyncmq.db", wantErr: "no scheme"},
		{url: "://x", wantErr: "no scheme"},
		{url: "sqlite://", wantErr: "no file path"},
		{url: "sqlite://a.db?mode=ro", wantErr: "query strings"},
		{url: "sqlite://a\x00.db", wantErr: "control character"},
		{url: "memory://x", wantErr: "takes nothing after the scheme"},
		{url: "postgres://localhost/db", wantErr: "postgres backend is not yet supported"},
		{url: "redis://localhost:6379", kind: "redis"},
		{url: "redis+cluster://a:7000,b:7001", kind: "redis"},
		{url: "mysql://x", wantErr: `unknown scheme "mysql"`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			kind, path, err := parseBackendURL(tt.url)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseBackendURL(%q) = %q, %q; want an error", tt.url, kind, path)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, `"memory://" or "sqlite://<path>"`) || !strings.Contains(msg, "backend URL") {
					t.Errorf("error %q should name the URL, the problem %q and the supported schemes", msg, tt.wantErr)
				}
				if !errors.Is(err, asyncmqtype.ErrInvalid) {
					t.Errorf("error %v does not wrap asyncmqtype.ErrInvalid", err)
				}
				return
			}
			if err != nil || kind != tt.kind || path != tt.path {
				t.Errorf("parseBackendURL(%q) = %q, %q, %v; want %q, %q", tt.url, kind, path, err, tt.kind, tt.path)
			}
		})
	}
}

func FuzzParseBackendURL(f *testing.F) {
	for _, s := range []string{"memory://", "sqlite://a.db", "sqlite:///x", "postgres://u:p@h/db", "x://", "sqlite://\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		kind, path, err := parseBackendURL(url)
		if err != nil {
			if !errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if kind == "sqlite" && (path == "" || strings.ContainsAny(path, "?#\x00")) {
			t.Fatalf("accepted sqlite path %q from %q", path, url)
		}
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "memory", url: "memory://"},
		{name: "sqlite absolute", url: "sqlite://" + filepath.Join(dir, "jobs.db")},
		{name: "sqlite in a missing folder", url: "sqlite://" + filepath.Join(dir, "missing", "jobs.db"), wantErr: "missing"},
		{name: "unsupported", url: "postgres://localhost", wantErr: "not yet supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Open(ctx, tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) error = %v, want one containing %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer b.Close()
			if _, err := NewClient(b).Enqueue(ctx, "t", nil); err != nil {
				t.Fatalf("Enqueue on %q: %v", tt.url, err)
			}
			if err := b.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if path, ok := strings.CutPrefix(tt.url, "sqlite://"); ok {
				if _, err := os.Stat(path); err != nil {
					t.Errorf("sqlite file was not created: %v", err)
				}
			}
		})
	}
}

func TestSQLitePath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want string
		ok   bool
	}{
		{"sqlite://asyncmq.db", "asyncmq.db", true},
		{"sqlite:///var/lib/asyncmq.db", "/var/lib/asyncmq.db", true},
		{"SQLITE3://x.db", "x.db", true},
		{"sqlite://", "", false},
		{"sqlite://x.db?mode=ro", "", false},
		{"memory://", "", false},
		{"postgres://postgres@127.0.0.1/test", "", false},
		{"asyncmq.db", "", false},
	} {
		got, ok := SQLitePath(tc.url)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SQLitePath(%q) = %q, %v; want %q, %v", tc.url, got, ok, tc.want, tc.ok)
		}
	}
}

// TestOpenErrorsHidePasswords: a backend URL's password never reaches an error message, which
// the CLI prints and servers log.
func TestOpenErrorsHidePasswords(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"postgres://u:hunter2@127.0.0.1/db",
		"redis://:hunter2@127.0.0.1:1/0?dial_timeout=200ms",
		"mystery://u:hunter2@host",
		"sqlite://u:hunter2@host/x.db?mode=ro",
	} {
		_, err := Open(t.Context(), url)
		if err == nil {
			t.Fatalf("Open(%q) = nil error", url)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error shows the password: %v", url, err)
		}
	}
}
