package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// staticBackend admits a fixed user when X-User is present, without allocating, so the
// benchmarks measure the admin's own overhead.
type staticBackend struct{ u *admin.User }

func (b staticBackend) Authenticate(r *http.Request) (*admin.User, error) {
	if _, ok := r.Header["X-User"]; ok {
		return b.u, nil
	}
	return nil, admin.ErrNoCredentials
}
func (staticBackend) Login(http.ResponseWriter, *http.Request)  {}
func (staticBackend) Logout(http.ResponseWriter, *http.Request) {}
func (staticBackend) Routes() []admin.Route                     { return nil }

// discardWriter is a ResponseWriter whose header map is reused between iterations, as a
// server's is per connection, so allocations counted are the handler's own.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkGate measures one request through the admin with a backend that costs nothing.
// "direct" calls the dashboard handler without the admin; "withvalue" is the least any Go
// middleware that hands a user to the next handler pays (context.WithValue and
// Request.WithContext): the baseline the admin's own overhead is compared with.
//
//	go test -run '^$' -bench BenchmarkGate -benchmem -count 5 ./admin/
func BenchmarkGate(b *testing.B) {
	dashboard := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	backend := staticBackend{u: &admin.User{ID: "alice", IsAdmin: true}}
	off := new(false)
	cases := []struct {
		name string
		cfg  admin.Config
		hdr  []string
		want int
	}{
		{name: "admitted/minimal", cfg: admin.Config{IncludeSecurity: off, IncludeSession: off}, hdr: []string{"X-User", "1"}, want: 200},
		{name: "admitted/headers", cfg: admin.Config{IncludeSession: off}, hdr: []string{"X-User", "1"}, want: 200},
		{name: "admitted/headers+session", cfg: admin.Config{}, hdr: []string{"X-User", "1"}, want: 200},
		{name: "anonymous/redirect", cfg: admin.Config{IncludeSession: off}, want: http.StatusSeeOther},
		{name: "login-off", cfg: admin.Config{IncludeSession: off}, want: 200},
	}

	b.Run("direct", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/asyncmq/queues/emails?state=failed", nil)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			dashboard.ServeHTTP(w, r)
		}
	})
	b.Run("withvalue", func(b *testing.B) {
		type key struct{}
		u := backend.u
		mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dashboard.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, u)))
		})
		r := httptest.NewRequest("GET", "/asyncmq/queues/emails?state=failed", nil)
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			mw.ServeHTTP(w, r)
		}
	})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg
			cfg.Handler = dashboard
			if c.name != "login-off" {
				cfg.EnableLogin, cfg.Backend = true, backend
			}
			a, err := admin.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			h := a.Handler()
			r := request("GET", "/asyncmq/queues/emails?state=failed", c.hdr...)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, r)
			if w.code != c.want {
				b.Fatalf("status %d, want %d", w.code, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}
