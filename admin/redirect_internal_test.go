package admin

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/asyncmq/", "/asyncmq/queues?state=failed", "//evil.com", "/\\evil.com",
		"/%2e%2e/x", "/asyncmq/%2F", "/asyncmq/../x", "https://evil.com", "/asyncmq/a%zz", "/asyncmq/\t"} {
		f.Add("/asyncmq", s)
		f.Add("", s)
	}
	dash, _ := url.Parse("https://dash.example/")
	f.Fuzz(func(t *testing.T, base, next string) {
		if base != "" {
			var ok bool
			if base, ok = cleanMountPath(base); !ok {
				return
			}
		}
		if !isSafeNext(base, next) {
			return
		}
		if !strings.HasPrefix(next, base+"/") {
			t.Fatalf("accepted %q outside base %q", next, base)
		}
		u, err := url.Parse(next)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("accepted %q with scheme or host: %+v %v", next, u, err)
		}
		// Resolve it the way a browser resolves a Location against the dashboard's URL.
		got := dash.ResolveReference(u)
		if got.Host != "dash.example" || got.Scheme != "https" {
			t.Fatalf("accepted %q resolves to %s", next, got)
		}
		if !strings.HasPrefix(got.Path, base+"/") {
			t.Fatalf("accepted %q resolves outside base %q: %s", next, base, got.Path)
		}
	})
}
