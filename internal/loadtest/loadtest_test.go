package loadtest_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/internal/loadtest"
)

// recorder is a test server that answers 200, or the status in the "status" query parameter,
// and remembers the X-Client header of every request.
type recorder struct {
	mu      sync.Mutex
	clients map[string]int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.clients[r.Header.Get("X-Client")]++
	rec.mu.Unlock()
	if s := r.URL.Query().Get("status"); s != "" {
		code, _ := strconv.Atoi(s)
		w.WriteHeader(code)
	}
	_, _ = w.Write([]byte("ok"))
}

func setup(t *testing.T) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{clients: map[string]int{}}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func TestRun(t *testing.T) {
	t.Parallel()
	header := func(i int) http.Header { return http.Header{"X-Client": {strconv.Itoa(i)}} }
	tests := []struct {
		name        string
		query       string
		cfg         loadtest.Config
		wantN       int // exact request count; 0 when the run is time-bound
		wantErrors  bool
		wantClients int
	}{
		{name: "request bound", cfg: loadtest.Config{Clients: 4, Requests: 200, Header: header},
			wantN: 200, wantClients: 4},
		{name: "time bound", cfg: loadtest.Config{Clients: 3, Duration: 200 * time.Millisecond, Header: header},
			wantClients: 3},
		{name: "fewer requests than clients", cfg: loadtest.Config{Clients: 8, Requests: 3},
			wantN: 3, wantClients: 1},
		{name: "unexpected status is an error", query: "?status=503", cfg: loadtest.Config{Clients: 2, Requests: 10},
			wantN: 10, wantErrors: true, wantClients: 1},
		{name: "redirect is measured, not followed", query: "?status=303", cfg: loadtest.Config{Requests: 5, WantStatus: http.StatusSeeOther},
			wantN: 5, wantClients: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, srv := setup(t)
			tt.cfg.URL = srv.URL + "/" + tt.query
			res, err := loadtest.Run(t.Context(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
			if tt.wantN > 0 && res.Requests != tt.wantN {
				t.Errorf("Requests = %d, want %d", res.Requests, tt.wantN)
			}
			if res.Requests == 0 {
				t.Fatal("no requests were sent")
			}
			var served int
			for _, n := range rec.clients {
				served += n
			}
			if served != res.Requests {
				t.Errorf("server saw %d requests, Result says %d", served, res.Requests)
			}
			if len(rec.clients) != tt.wantClients {
				t.Errorf("server saw the headers of %d clients (%v), want %d", len(rec.clients), rec.clients, tt.wantClients)
			}
			if tt.wantErrors != (res.Errors > 0) || tt.wantErrors != (res.FirstError != nil) {
				t.Errorf("Errors = %d, FirstError = %v; want errors: %v", res.Errors, res.FirstError, tt.wantErrors)
			}
			if tt.wantErrors && res.Errors != res.Requests {
				t.Errorf("Errors = %d, want every one of the %d responses", res.Errors, res.Requests)
			}
			if !(0 < res.P50 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
				t.Errorf("percentiles out of order: p50 %v p90 %v p99 %v max %v", res.P50, res.P90, res.P99, res.Max)
			}
			if res.RPS <= 0 || res.Elapsed <= 0 {
				t.Errorf("RPS = %v, Elapsed = %v, want both positive", res.RPS, res.Elapsed)
			}
			if tt.cfg.Duration > 0 && res.Elapsed > tt.cfg.Duration+time.Second {
				t.Errorf("a %v run took %v", tt.cfg.Duration, res.Elapsed)
			}
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  loadtest.Config
		want string
	}{
		{"no URL", loadtest.Config{Requests: 1}, "URL is required"},
		{"unbounded", loadtest.Config{URL: "http://127.0.0.1:1/"}, "bound the run"},
		{"negative", loadtest.Config{URL: "http://127.0.0.1:1/", Requests: 1, Clients: -1}, "must not be negative"},
		{"malformed URL", loadtest.Config{URL: "http://[::1", Requests: 1}, "Config.URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadtest.Run(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRunCountsUnreachableServer(t *testing.T) {
	t.Parallel()
	_, srv := setup(t)
	url := srv.URL
	srv.Close()
	res, err := loadtest.Run(t.Context(), loadtest.Config{URL: url, Requests: 3, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors != 3 || res.FirstError == nil {
		t.Errorf("Result %+v: want 0 responses and 3 errors", res)
	}
}
