package admin_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// fakeBackend authenticates from test headers, or from the session after a form login:
//
//	X-Test-User:   the user ID (absent: anonymous; "bad": refused credentials)
//	X-Test-Claims: JSON object; "is_admin" read with admin.Truthy, "roles" with admin.RolesFromClaim
//	X-Test-Roles:  comma-separated roles
type fakeBackend struct {
	err    error // returned by Authenticate when set
	routes []admin.Route
}

func (b *fakeBackend) Authenticate(r *http.Request) (*admin.User, error) {
	if b.err != nil {
		return nil, b.err
	}
	id := r.Header.Get("X-Test-User")
	if id == "" {
		if s := admin.SessionFromRequest(r); s != nil {
			if id = s.GetString("user"); id != "" {
				return &admin.User{ID: id, IsAdmin: true}, nil
			}
		}
		return nil, admin.ErrNoCredentials
	}
	if id == "bad" {
		return nil, fmt.Errorf("verify token: signature invalid: %w", admin.ErrNoCredentials)
	}
	u := &admin.User{ID: id}
	if c := r.Header.Get("X-Test-Claims"); c != "" {
		var claims map[string]any
		if err := json.Unmarshal([]byte(c), &claims); err != nil {
			return nil, admin.ErrNoCredentials
		}
		u.Claims = claims
		u.IsAdmin = admin.Truthy(claims["is_admin"])
		u.Roles = admin.RolesFromClaim(claims["roles"])
	}
	if rs := r.Header.Get("X-Test-Roles"); rs != "" {
		u.Roles = append(u.Roles, strings.Split(rs, ",")...)
	}
	return u, nil
}

func (b *fakeBackend) Login(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s := admin.SessionFromRequest(r)
		if err := s.RenewToken(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.PutString("user", r.PostFormValue("user"))
		http.Redirect(w, r, admin.SafeRedirect(r, r.PostFormValue("next")), http.StatusSeeOther)
		return
	}
	fmt.Fprintf(w, "login page at %s, next=%s", admin.LoginURL(r), admin.SafeRedirect(r, r.FormValue("next")))
}

func (b *fakeBackend) Logout(w http.ResponseWriter, r *http.Request) {
	if s := admin.SessionFromRequest(r); s != nil {
		_ = s.Destroy()
	}
	http.Redirect(w, r, admin.LoginURL(r), http.StatusSeeOther)
}

func (b *fakeBackend) Routes() []admin.Route { return b.routes }

type sessionBackend struct{ fakeBackend }

func (sessionBackend) RequiresSession() bool { return true }

// echoHandler is the dashboard in tests: it reports what the admin handed it.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	user := "-"
	if u := admin.UserFromContext(r.Context()); u != nil {
		user = u.ID
	}
	session := "off"
	if admin.SessionFromRequest(r) != nil {
		session = "on"
	}
	fmt.Fprintf(w, "path=%s base=%s user=%s session=%s tls=%v", r.URL.Path, admin.BasePath(r), user, session, admin.RequestIsTLS(r))
})

type testBundle struct {
	admin   *admin.Admin
	handler http.Handler
}

// setup builds an admin with login enabled, the fake backend and the echo dashboard, after
// letting the test adjust the config.
func setup(t *testing.T, adjust func(*admin.Config)) testBundle {
	t.Helper()
	cfg := admin.Config{EnableLogin: true, Backend: &fakeBackend{}, Handler: echoHandler}
	if adjust != nil {
		adjust(&cfg)
	}
	a, err := admin.New(cfg)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	return testBundle{admin: a, handler: a.Handler()}
}

type response struct {
	code   int
	header http.Header
	body   string
}

func serve(t *testing.T, h http.Handler, r *http.Request) response {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(b)}
}

// request builds a request like a server would hand it over; headers alternate name, value.
func request(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func withBody(r *http.Request, body string) *http.Request {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

func sessionCookie(t *testing.T, res response, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", name, res.header.Values("Set-Cookie"))
	return nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
