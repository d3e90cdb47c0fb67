package admin_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// TestBodyLimit checks the body cap of issue 11 item 6 reaches every handler behind the admin,
// the backend's own routes included, which had no limit of their own.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, "read it all")
	})
	tests := []struct {
		name  string
		limit int64
		size  int
		want  int
	}{
		{"default limit, small body", 0, 1000, http.StatusOK},
		{"default limit, 2 MiB body", 0, 2 << 20, http.StatusRequestEntityTooLarge},
		{"configured limit", 100, 101, http.StatusRequestEntityTooLarge},
		{"at the configured limit", 100, 100, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *admin.Config) {
				c.MaxBodyBytes = tt.limit
				c.Backend = &fakeBackend{routes: []admin.Route{{Pattern: "POST /hook", Handler: route}}}
			})
			r := withBody(request("POST", "/asyncmq/hook", "Origin", "http://example.com"), strings.Repeat("x", tt.size))
			if res := serve(t, b.handler, r); res.code != tt.want {
				t.Fatalf("status %d (%q), want %d", res.code, res.body, tt.want)
			}
		})
	}
	if _, err := admin.New(admin.Config{MaxBodyBytes: -1}); err == nil || !strings.Contains(err.Error(), "Config.MaxBodyBytes") {
		t.Errorf("negative MaxBodyBytes: %v, want an error naming it", err)
	}
}
