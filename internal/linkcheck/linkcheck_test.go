// Package linkcheck checks which stores a program links: the root package must link none, so an
// application pays only for the stores it imports. OpenTelemetry is checked the same way: only a
// program that imports asyncmqotel links it.
package linkcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// storeDeps are the packages that would show a store's driver, or OpenTelemetry, being linked.
var storeDeps = map[string]string{
	"sqlite":   "modernc.org/sqlite",
	"redis":    "github.com/redis/go-redis/v9",
	"postgres": "github.com/jackc/pgx/v5",
	"otel":     "go.opentelemetry.io/otel",
}

func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	set := make(map[string]bool)
	for _, line := range strings.Fields(string(out)) {
		set[line] = true
	}
	return set
}

func TestLinkedStores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pkg     string
		linked  []string
		avoided []string
	}{
		{"github.com/asyncmq/asyncmq/internal/linkcheck/sqliteonly", []string{"sqlite"}, []string{"redis", "postgres", "otel"}},
		{"github.com/asyncmq/asyncmq/internal/linkcheck/memoryonly", nil, []string{"sqlite", "redis", "postgres", "otel"}},
		{"github.com/asyncmq/asyncmq", nil, []string{"sqlite", "redis", "postgres", "otel"}},
		{"github.com/asyncmq/asyncmq/asyncmqotel", []string{"otel"}, []string{"sqlite", "redis", "postgres"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			t.Parallel()
			d := deps(t, tt.pkg)
			for _, s := range tt.linked {
				if !d[storeDeps[s]] {
					t.Errorf("%s does not link %s (%s); the check would pass vacuously", tt.pkg, s, storeDeps[s])
				}
			}
			for _, s := range tt.avoided {
				for p := range d {
					if p == storeDeps[s] || strings.HasPrefix(p, storeDeps[s]+"/") {
						t.Errorf("%s links %s through %s", tt.pkg, s, p)
						break
					}
				}
			}
		})
	}
}
