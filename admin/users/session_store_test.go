package users_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
)

var (
	_ scs.CtxStore         = (*users.SessionStore)(nil)
	_ scs.IterableCtxStore = (*users.SessionStore)(nil)
	_ scs.IterableStore    = (*users.SessionStore)(nil)
)

func newSessionStore(t *testing.T, db userstest.DB, opts ...users.SessionStoreOption) *users.SessionStore {
	t.Helper()
	s, err := users.NewSessionStore(context.Background(), db.DB, db.Dialect, opts...)
	if err != nil {
		t.Fatalf("NewSessionStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSessionStore(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		s := newSessionStore(t, db, users.SessionCleanupInterval(0))
		future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Second)

		if err := s.CommitCtx(ctx, "live", []byte("v1"), future); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitCtx(ctx, "live", []byte("v2"), future); err != nil {
			t.Fatalf("Commit over an existing token: %v", err)
		}
		if err := s.CommitCtx(ctx, "stale", []byte("old"), past); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			token     string
			wantFound bool
			want      string
		}{
			{"live", true, "v2"},
			{"stale", false, ""},
			{"unknown", false, ""},
			{"' OR 1=1 --", false, ""},
		}
		for _, tt := range tests {
			b, found, err := s.FindCtx(ctx, tt.token)
			if err != nil || found != tt.wantFound || string(b) != tt.want {
				t.Errorf("Find(%q) = %q, %t, %v; want %q, %t, nil", tt.token, b, found, err, tt.want, tt.wantFound)
			}
		}
		all, err := s.AllCtx(ctx)
		if err != nil || len(all) != 1 || string(all["live"]) != "v2" {
			t.Errorf("All = %q, %v; want only the live session", all, err)
		}
		n, err := s.DeleteExpired(ctx)
		if err != nil || n != 1 {
			t.Errorf("DeleteExpired = %d, %v; want 1", n, err)
		}
		if err := s.DeleteCtx(ctx, "live"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCtx(ctx, "live"); err != nil {
			t.Errorf("Delete of a deleted token: %v, want nil", err)
		}
		if _, found, _ := s.FindCtx(ctx, "live"); found {
			t.Error("Find after Delete: found")
		}
	})
}

func TestSessionStoreBackgroundCleanup(t *testing.T) {
	t.Parallel()
	db := userstest.SQLite(t)
	s := newSessionStore(t, db, users.SessionCleanupInterval(5*time.Millisecond))
	ctx := context.Background()
	if err := s.CommitCtx(ctx, "stale", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM asyncmq_admin_sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired session still stored 10 s after commit with a 5 ms cleanup interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The store works under a real scs.SessionManager: data written in one request is read back in
// the next through the cookie, and survives a new manager (a restarted process).
func TestSessionStoreWithSCS(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		store := newSessionStore(t, db, users.SessionCleanupInterval(0))
		handler := func() http.Handler {
			m := scs.New()
			m.Store = store
			mux := http.NewServeMux()
			mux.HandleFunc("PUT /", func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				m.Put(r.Context(), "who", string(b))
			})
			mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, m.GetString(r.Context(), "who"))
			})
			return m.LoadAndSave(mux)
		}
		put := httptest.NewRecorder()
		handler().ServeHTTP(put, httptest.NewRequest("PUT", "/", strings.NewReader("alice")))
		cookies := put.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("PUT set %d cookies, want 1", len(cookies))
		}
		get := httptest.NewRequest("GET", "/", nil)
		get.AddCookie(cookies[0])
		rec := httptest.NewRecorder()
		handler().ServeHTTP(rec, get)
		if rec.Body.String() != "alice" {
			t.Errorf("GET with the session cookie on a new manager = %q, want %q", rec.Body.String(), "alice")
		}
	})
}
