package asyncmq

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	_ "github.com/asyncmq/asyncmq/backend/memory"
	_ "github.com/asyncmq/asyncmq/backend/sqlite"
)

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
		{name: "unknown scheme", url: "mysql://x", wantErr: `unknown scheme "mysql"`},
		{name: "no scheme", url: "asyncmq.db", wantErr: "no scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Open(ctx, tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) error = %v, want one containing %q", tt.url, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the URL's password", err)
				}
				if !strings.Contains(tt.wantErr, "missing") && !errors.Is(err, asyncmqtype.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
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
