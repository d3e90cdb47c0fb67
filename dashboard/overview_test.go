package dashboard

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// fetch GETs url as user without failing the test, so that it can run on any goroutine.
func fetch(client *http.Client, url, user string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("X-Test-User", user)
	req.Header.Set("X-Test-Roles", "viewer")
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// Fifty viewers opening the overview at once cost one read of the backend, and each still sees
// their own name on it.
func TestOverviewSharedAcrossViewers(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	cb := &countingBackend{Store: mem}
	e := setup(t, withRoles(), withBackend(cb))
	e.d.overviewCache.ttl = time.Hour
	e.add(job("emails", "send", ""))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			user := fmt.Sprintf("viewer-%d", i)
			status, body, err := fetch(e.client, e.srv.URL+e.base+"/", user)
			switch {
			case err != nil || status != http.StatusOK:
				t.Errorf("%s: status %d, %v", user, status, err)
			case !strings.Contains(body, `data-total="jobs">1<`):
				t.Errorf("%s: the overview lacks the job count", user)
			case !strings.Contains(body, `data-testid="current-user">User `+user+" ") || strings.Count(body, "User viewer-") != 1:
				t.Errorf("%s: the overview names someone else: %s", user, truncate(200, body[strings.Index(body, "current-user"):]))
			}
		})
	}
	wg.Wait()
	if n := cb.queues.Load(); n != 1 {
		t.Errorf("50 overviews read the queues %d times, want once", n)
	}
}

func TestOverviewShowsChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ttl  time.Duration
		// live opens an event stream, so that the hub polls the backend.
		live   bool
		change func(e *env)
		want   string
	}{
		{"the dashboard's own action at once", time.Hour, false, func(e *env) {
			wantStatus(e.t, e.post("/queues/emails", url.Values{"action": {"pause"}}), http.StatusSeeOther)
		}, `data-total="paused">1<`},
		{"a worker's change after the cache time", 30 * time.Millisecond, false, func(e *env) {
			e.add(job("emails", "send", ""))
		}, `data-total="jobs">2<`},
		{"a change the live updates see, before the cache time", time.Hour, true, func(e *env) {
			e.add(job("emails", "send", ""))
		}, `data-total="jobs">2<`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.d.overviewCache.ttl = tt.ttl
			e.add(job("emails", "send", ""))
			if tt.live {
				s := e.stream("/events")
				s.next(isEvent("counts"))
			}
			wantContains(t, e.get("/").body, `data-total="jobs">1<`, `data-total="paused">0<`)
			tt.change(e)
			waitFor(t, func() bool { return strings.Contains(e.get("/").body, tt.want) })
		})
	}
}

// One dashboard reached under two mount paths renders each one's links, though the overview's
// content is rendered once and shared.
func TestOverviewFollowsMountPath(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.add(job("emails", "send", ""))
	a, err := admin.New(admin.Config{Handler: e.d, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Mount(mux)
	outer := http.NewServeMux()
	outer.Handle("/ops/", http.StripPrefix("/ops", mux))
	outer.Handle("/", mux)
	srv := httptest.NewServer(outer)
	t.Cleanup(srv.Close)
	for _, base := range []string{"/asyncmq", "/ops/asyncmq", "/asyncmq"} {
		status, body, err := fetch(srv.Client(), srv.URL+base+"/", "")
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s: status %d, %v", base, status, err)
		}
		wantContains(t, body, `href="`+base+`/queues/emails"`, `href="`+base+`/workers"`, `data-history-url="`+base+`/metrics/history"`)
		if base == "/asyncmq" {
			wantNotContains(t, body, "/ops/")
		}
	}
}
