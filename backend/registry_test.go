package backend_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// TestOpenNamesTheMissingImport: this test binary links no store, so Open of a store asyncmq
// ships tells the program which package to import, without showing the URL's password.
func TestOpenNamesTheMissingImport(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, pkg string }{
		{"postgres://user:hunter2@localhost/db", "backend/postgres"},
		{"postgresql://user:hunter2@localhost/db", "backend/postgres"},
		{"redis://:hunter2@localhost:6379/0", "backend/redis"},
		{"sqlite://jobs.db", "backend/sqlite"},
	} {
		_, err := backend.Open(t.Context(), tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.pkg) || !errors.Is(err, asyncmqtype.ErrInvalid) {
			t.Errorf("Open(%q) error = %v, want ErrInvalid naming %s", tt.url, err, tt.pkg)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q shows the URL's password", err)
		}
	}
}
