package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		path    string
		wantErr string
	}{
		{url: "sqlite://asyncmq.db", path: "asyncmq.db"},
		{url: "sqlite://data/jobs.db", path: "data/jobs.db"},
		{url: "sqlite:///var/lib/asyncmq.db", path: "/var/lib/asyncmq.db"},
		{url: "sqlite://my%20jobs.db", path: "my%20jobs.db"},
		{url: "SQLITE3://x.db", path: "x.db"},
		{url: "", wantErr: "no scheme"},
		{url: "asyncmq.db", wantErr: "no scheme"},
		{url: "://x", wantErr: "no scheme"},
		{url: "sqlite://", wantErr: "no file path"},
		{url: "sqlite://a.db?mode=ro", wantErr: "query strings"},
		{url: "sqlite://a.db#x", wantErr: "fragments"},
		{url: "sqlite://a\x00.db", wantErr: "control character"},
		{url: "sqlite://a\x7f.db", wantErr: "control character"},
		{url: "memory://", wantErr: "is not sqlite"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			path, err := parseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseURL(%q) = %q; want an error", tt.url, path)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, "sqlite://asyncmq.db relative, sqlite:///var/lib/asyncmq.db absolute") || !strings.Contains(msg, "backend URL") {
					t.Errorf("error %q should name the URL, the problem %q and the accepted forms", msg, tt.wantErr)
				}
				if !errors.Is(err, asyncmqtype.ErrInvalid) {
					t.Errorf("error %v does not wrap asyncmqtype.ErrInvalid", err)
				}
				return
			}
			if err != nil || path != tt.path {
				t.Errorf("parseURL(%q) = %q, %v; want %q", tt.url, path, err, tt.path)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"memory://", "sqlite://a.db", "sqlite:///x", "postgres://u:p@h/db", "x://", "sqlite://\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		path, err := parseURL(url)
		if err != nil {
			if !errors.Is(err, asyncmqtype.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if path == "" || strings.ContainsAny(path, "?#\x00") {
			t.Fatalf("accepted sqlite path %q from %q", path, url)
		}
		if got, ok := PathFromURL(url); !ok || got != path {
			t.Fatalf("PathFromURL(%q) = %q, %v; want %q", url, got, ok, path)
		}
	})
}

func TestPathFromURL(t *testing.T) {
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
		got, ok := PathFromURL(tc.url)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PathFromURL(%q) = %q, %v; want %q, %v", tc.url, got, ok, tc.want, tc.ok)
		}
	}
}

// TestOpenByURL opens through the registry, as asyncmq.Open and the CLI do.
func TestOpenByURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for _, scheme := range []string{"sqlite", "sqlite3", "SQLite"} {
		path := filepath.Join(dir, scheme+".db")
		b, err := backend.Open(ctx, scheme+"://"+path)
		if err != nil {
			t.Fatalf("open %s URL: %v", scheme, err)
		}
		if err := b.Ping(ctx); err != nil {
			t.Errorf("ping: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("sqlite file was not created: %v", err)
		}
	}
	_, err := backend.Open(ctx, "sqlite://"+filepath.Join(dir, "missing", "jobs.db"))
	if err == nil || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "backend") {
		t.Errorf("open in a missing folder: %v, want an error naming the URL and the folder", err)
	}
}

// TestOpenByURLHidesPasswords: a backend URL's password never reaches an error message, which
// the CLI prints and servers log.
func TestOpenByURLHidesPasswords(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"sqlite://u:hunter2@host/x.db?mode=ro",
		"sqlite3://u:hunter2@host/x.db#frag",
		"sqlite://u:hunter2@host/x.db",
		"sqlite://u:hunter2@/tmp/x.db",
	} {
		_, err := backend.Open(t.Context(), url)
		if err == nil {
			t.Fatalf("Open(%q) = nil error", url)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error shows the password: %v", url, err)
		}
	}
}
