package passwordauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/passwordauth"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
	"golang.org/x/crypto/bcrypt"
)

const (
	password   = "correct horse battery"
	cookieName = "asyncmq_session"
)

// testHasher keeps argon2id but cheap enough that a test can sign in dozens of times; the
// production parameters are covered in package users.
var testHasher = users.Hasher{Params: users.HashParams{Memory: 256, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

var passwordHash = sync.OnceValue(func() string {
	h, err := testHasher.Hash(password)
	if err != nil {
		panic(err)
	}
	return h
})

type fixture struct {
	handler  http.Handler
	store    *countingStore
	db       userstest.DB
	logs     *syncBuffer
	sessions *users.SessionStore
}

type options struct {
	cfg         passwordauth.Config
	db          *userstest.DB // default: a fresh SQLite database
	memSessions bool          // the admin's in-memory sessions instead of the SQL store
}

// setup serves a passwordauth backend behind a real admin, with users and sessions in one
// database: root (admin), olga (not admin, roles), ivan (inactive), nopw (no password), all
// with the same password.
func setup(t testing.TB, o options) *fixture {
	t.Helper()
	ctx := context.Background()
	var db userstest.DB
	if o.db != nil {
		db = *o.db
	} else {
		db = userstest.SQLite(t)
	}
	store := &countingStore{SQLStore: userstest.Store(t, db)}
	for _, u := range []users.User{
		{ID: "root", DisplayName: "Root", Active: true, Admin: true},
		{ID: "olga", Email: "olga@example.com", Active: true, Roles: []string{"viewer"}},
		{ID: "ivan", Active: false, Admin: true},
		{ID: "nopw", Active: true, Admin: true},
	} {
		if _, err := store.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		if u.ID != "nopw" {
			if err := store.SetPassword(ctx, u.ID, passwordHash()); err != nil {
				t.Fatal(err)
			}
		}
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := o.cfg
	cfg.Store, cfg.Hasher, cfg.Logger = store, testHasher, log
	b, err := passwordauth.New(cfg)
	if err != nil {
		t.Fatalf("passwordauth.New: %v", err)
	}
	acfg := admin.Config{
		EnableLogin: true, Backend: b, Logger: log, RequireAdmin: new(false),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := admin.UserFromContext(r.Context())
			fmt.Fprintf(w, "id=%s name=%s admin=%t roles=%s", u.ID, u.DisplayName(), u.IsAdmin, strings.Join(u.Roles, ","))
		}),
	}
	f := &fixture{store: store, db: db, logs: logs}
	if !o.memSessions {
		f.sessions, err = users.NewSessionStore(ctx, db.DB, db.Dialect, users.SessionCleanupInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		acfg.Session.Store = f.sessions
	}
	a, err := admin.New(acfg)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	f.handler = a.Handler()
	return f
}

type request struct {
	method, path string
	form         url.Values
	cookie       *http.Cookie
	remote       string
	header       http.Header
}

func (f *fixture) do(r request) *http.Response {
	var body *strings.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.cookie != nil {
		req.AddCookie(r.cookie)
	}
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, req)
	return w.Result()
}

func (f *fixture) login(user, pw, next string, cookie *http.Cookie) *http.Response {
	return f.do(request{method: "POST", path: "/asyncmq/login", cookie: cookie,
		form: url.Values{"username": {user}, "password": {pw}, "next": {next}}})
}

func sessionCookie(t testing.TB, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			return c
		}
	}
	t.Fatalf("response %d set no %s cookie", resp.StatusCode, cookieName)
	return nil
}

// signIn logs in as user and returns the session cookie.
func (f *fixture) signIn(t testing.TB, user string) *http.Cookie {
	t.Helper()
	resp := f.login(user, password, "", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: status %d, body %q", user, resp.StatusCode, readBody(resp))
	}
	return sessionCookie(t, resp)
}

func (f *fixture) dashboard(c *http.Cookie) *http.Response {
	return f.do(request{method: "GET", path: "/asyncmq/queues", cookie: c})
}

func readBody(resp *http.Response) string {
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	tests := []struct {
		path string
		// wantNext is the hidden next field, "" for none.
		wantNext string
	}{
		{"/asyncmq/login?next=/asyncmq/queues%3Fstate%3Dfailed", `name="next" value="/asyncmq/queues?state=failed"`},
		{"/asyncmq/login?next=//evil.example", ""},
		{`/asyncmq/login?next=/asyncmq/"><script>alert(1)</script>`, `value="/asyncmq/&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`},
	}
	for _, tt := range tests {
		resp := f.do(request{method: "GET", path: tt.path})
		body := readBody(resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("GET %s: %d %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if tt.wantNext == "" && strings.Contains(body, `name="next"`) {
			t.Errorf("GET %s: the form carries a next field", tt.path)
		}
		for _, want := range []string{`action="/asyncmq/login"`, `name="username"`, `type="password"`,
			`autocomplete="current-password"`, `href="/asyncmq/assets/admin.css?v=`, tt.wantNext} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: body lacks %q", tt.path, want)
			}
		}
		for _, bad := range []string{"<script", "<style", "style=", "onload", "evil.example"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: body contains %q", tt.path, bad)
			}
		}
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	userstest.Each(t, testSignIn)
}

func testSignIn(t *testing.T, db userstest.DB) {
	f := setup(t, options{db: &db})
	resp := f.login(" root ", password, "/asyncmq/queues?state=failed", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/asyncmq/queues?state=failed" {
		t.Fatalf("login: %d Location %q, want 303 to the next path", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := sessionCookie(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/asyncmq/" {
		t.Errorf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=/asyncmq/", c)
	}
	resp = f.dashboard(c)
	if body := readBody(resp); resp.StatusCode != 200 || body != "id=root name=Root admin=true roles=" {
		t.Errorf("dashboard with the session: %d %q", resp.StatusCode, body)
	}
	// Roles come from the store, reloaded on each request.
	c = f.signIn(t, "olga")
	resp = f.dashboard(c)
	if body := readBody(resp); body != "id=olga name=olga@example.com admin=false roles=viewer" {
		t.Errorf("dashboard as olga: %q", body)
	}
	if strings.Contains(f.logs.String(), password) {
		t.Error("a password reached the logs")
	}
}

// The return path goes through admin.SafeRedirect: anything that could leave the dashboard
// lands on its root.
func TestSignInRedirect(t *testing.T) {
	t.Parallel()
	f := setup(t, options{cfg: passwordauth.Config{PerUser: passwordauth.Throttle{Burst: 100, Every: time.Second}}})
	tests := []struct{ next, want string }{
		{"/asyncmq/jobs/42", "/asyncmq/jobs/42"},
		{"", "/asyncmq/"},
		{"//evil.example", "/asyncmq/"},
		{"/\\evil.example", "/asyncmq/"},
		{"https://evil.example/asyncmq/", "/asyncmq/"},
		{"/\t/evil.example", "/asyncmq/"},
		{"/asyncmq/../evil", "/asyncmq/"},
		{"javascript:alert(1)", "/asyncmq/"},
		{"/other-app/", "/asyncmq/"},
	}
	for _, tt := range tests {
		resp := f.login("root", password, tt.next, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.want {
			t.Errorf("next=%q: %d Location %q, want 303 %q", tt.next, resp.StatusCode, resp.Header.Get("Location"), tt.want)
		}
	}
}

// Unknown user, wrong password, disabled account and an account without a password get the
// same status and the same page, and take about as long: each is checked against a hash.
func TestRefusalsLookAlike(t *testing.T) {
	t.Parallel()
	// Heavier parameters than testHasher so that hashing dominates the timing.
	hasher := users.Hasher{Params: users.HashParams{Memory: 8 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
	f := setup(t, options{})
	b, err := passwordauth.New(passwordauth.Config{Store: f.store, Hasher: hasher,
		PerUser: passwordauth.Throttle{Burst: 100, Every: time.Second}, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hasher.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetPassword(context.Background(), "root", h); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetPassword(context.Background(), "ivan", h); err != nil {
		t.Fatal(err)
	}
	a, err := admin.New(admin.Config{EnableLogin: true, Backend: b, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = a.Handler()

	attempts := []struct{ name, user, pw string }{
		{"wrong password", "root", "not the password"},
		{"unknown user", "mallory", "not the password"},
		{"disabled user, right password", "ivan", password},
		{"user without a password", "nopw", password},
	}
	type outcome struct {
		status int
		body   string
		took   time.Duration
	}
	got := make([]outcome, len(attempts))
	for i := range got {
		got[i].took = time.Hour
	}
	// Round-robin, keeping each kind's fastest run: load on a shared machine only ever adds
	// time, and interleaving spreads it over every kind alike.
	for range 5 {
		for i, at := range attempts {
			start := time.Now()
			resp := f.login(at.user, at.pw, "", nil)
			took := time.Since(start)
			got[i].status, got[i].body = resp.StatusCode, readBody(resp)
			got[i].took = min(got[i].took, took)
		}
	}
	for i, o := range got {
		if o.status != http.StatusUnauthorized || !strings.Contains(o.body, "Invalid username or password.") {
			t.Errorf("%s: %d, want 401 with the generic message", attempts[i].name, o.status)
		}
		if o.body != got[0].body {
			t.Errorf("%s: body differs from %s's", attempts[i].name, attempts[0].name)
		}
		// A refusal that skipped the hash would be about a hundred times faster (one indexed
		// query against an 8 MiB, two-pass argon2id).
		if o.took < got[0].took/10 {
			t.Errorf("%s took %v, %s %v: an unhashed refusal gives away which usernames exist",
				attempts[i].name, o.took, attempts[0].name, got[0].took)
		}
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := setup(t, options{cfg: passwordauth.Config{
		PerUser:   passwordauth.Throttle{Burst: 2, Every: time.Hour},
		PerClient: passwordauth.Throttle{Burst: 4, Every: time.Minute},
		Now:       func() time.Time { return now },
	}})
	attempt := func(user, pw, remote string) *http.Response {
		return f.do(request{method: "POST", path: "/asyncmq/login", remote: remote,
			form: url.Values{"username": {user}, "password": {pw}}})
	}
	steps := []struct {
		name           string
		user, pw, from string
		wantStatus     int
		wantRetryAfter string
		wantLookup     bool
	}{
		{"1st wrong password", "root", "wrong", "192.0.2.1:1000", 401, "", true},
		{"2nd wrong password", " root ", "wrong", "192.0.2.2:1000", 401, "", true},
		{"user throttled, even with the right password", "root", password, "192.0.2.3:1000", 429, "3600", false},
		{"user throttled, from any client", " root", password, "[2001:db8::1]:1000", 429, "3600", false},
		// Successful sign-ins do not spend the user's budget.
		{"olga 1", "olga", password, "192.0.2.9:1", 303, "", true},
		{"olga 2", "olga", password, "192.0.2.9:2", 303, "", true},
		{"olga 3", "olga", password, "192.0.2.9:3", 303, "", true},
		// ...but every attempt spends the client's.
		{"client's 4th attempt", "nobody", "wrong", "192.0.2.9:4", 401, "", true},
		{"client throttled", "olga", password, "192.0.2.9:5", 429, "60", false},
		// An IPv6 client is its /64.
		{"v6 1", "a", "wrong", "[2001:db8:0:1::1]:1", 401, "", true},
		{"v6 2", "b", "wrong", "[2001:db8:0:1::2]:1", 401, "", true},
		{"v6 3", "c", "wrong", "[2001:db8:0:1::3]:1", 401, "", true},
		{"v6 4", "d", "wrong", "[2001:db8:0:1::4]:1", 401, "", true},
		{"v6 same /64 throttled", "e", "wrong", "[2001:db8:0:1::5]:1", 429, "60", false},
	}
	for _, s := range steps {
		before := f.store.gets.Load()
		resp := attempt(s.user, s.pw, s.from)
		if resp.StatusCode != s.wantStatus || resp.Header.Get("Retry-After") != s.wantRetryAfter {
			t.Fatalf("%s: %d Retry-After %q, want %d %q", s.name, resp.StatusCode, resp.Header.Get("Retry-After"), s.wantStatus, s.wantRetryAfter)
		}
		if looked := f.store.gets.Load() > before; looked != s.wantLookup {
			t.Errorf("%s: store queried = %t, want %t (throttling comes before any lookup or hashing)", s.name, looked, s.wantLookup)
		}
	}
	// The user's bucket refills: one more attempt an hour later.
	now = now.Add(time.Hour)
	if resp := attempt("root", password, "198.51.100.1:1"); resp.StatusCode != 303 {
		t.Errorf("an hour later: %d, want 303", resp.StatusCode)
	}
}

// TestThrottleKeysAreExact reproduces the second half of issue 11 item 3: the per-user bucket
// was keyed by the lower-cased name, so failures against "alice" locked out "Alice", another
// account of the case-sensitive store.
func TestThrottleKeysAreExact(t *testing.T) {
	t.Parallel()
	f := setup(t, options{cfg: passwordauth.Config{PerUser: passwordauth.Throttle{Burst: 2, Every: time.Hour}}})
	ctx := context.Background()
	for _, id := range []string{"alice", "Alice"} {
		if _, err := f.store.Create(ctx, users.User{ID: id, Active: true, Admin: true}); err != nil {
			t.Fatal(err)
		}
		if err := f.store.SetPassword(ctx, id, passwordHash()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		resp := f.login("alice", "wrong", "", nil)
		if want := []int{401, 401, 429}[i]; resp.StatusCode != want {
			t.Fatalf("alice's attempt %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	if resp := f.login("Alice", password, "", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Alice after alice was throttled: %d, want 303", resp.StatusCode)
	}
	if resp := f.login("alice", password, "", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("alice with the right password while throttled: %d, want 429", resp.StatusCode)
	}
}

// caseFoldingStore compares IDs without case, as a mapped table with a case-insensitive
// collation would.
type caseFoldingStore struct{ *countingStore }

func (s caseFoldingStore) Get(ctx context.Context, id string) (*users.User, error) {
	return s.countingStore.Get(ctx, strings.ToLower(id))
}

// With a store that matches names without case, spelling variants reach the same account, so
// they must spend that account's bucket rather than one each.
func TestThrottleFollowsTheMatchedAccount(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	b, err := passwordauth.New(passwordauth.Config{Store: caseFoldingStore{f.store}, Hasher: testHasher,
		PerUser: passwordauth.Throttle{Burst: 2, Every: time.Hour}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := admin.New(admin.Config{EnableLogin: true, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = a.Handler()
	for i, name := range []string{"ROOT", "Root", "rOOT"} {
		resp := f.login(name, "wrong", "", nil)
		if want := []int{401, 401, 429}[i]; resp.StatusCode != want {
			t.Fatalf("attempt %d as %q: %d, want %d", i+1, name, resp.StatusCode, want)
		}
	}
}

// TestClientKeyBehindProxies reproduces the first half of issue 11 item 3: behind a trusted
// proxy every sign-in came from the proxy's address, so one client's failures made everybody's
// sign-in answer 429. ClientFromProxies keys by the client the proxy appended.
func TestClientKeyBehindProxies(t *testing.T) {
	t.Parallel()
	proxies, err := admin.ParseTrustedProxies([]string{"10.0.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, options{cfg: passwordauth.Config{
		PerClient: passwordauth.Throttle{Burst: 3, Every: time.Hour},
		ClientKey: passwordauth.ClientFromProxies(proxies),
	}})
	attempt := func(user, pw, xff string) int {
		return f.do(request{method: "POST", path: "/asyncmq/login", remote: "10.0.0.10:443",
			header: http.Header{"X-Forwarded-For": {xff}},
			form:   url.Values{"username": {user}, "password": {pw}}}).StatusCode
	}
	// The attacker rotates the part of X-Forwarded-For it writes itself; the proxy appends the
	// real address.
	for i := range 4 {
		got := attempt(fmt.Sprintf("guess%d", i), "wrong", fmt.Sprintf("198.51.100.%d, 203.0.113.66", i))
		if want := []int{401, 401, 401, 429}[i]; got != want {
			t.Fatalf("attacker's attempt %d: %d, want %d", i+1, got, want)
		}
	}
	if got := attempt("root", password, "192.0.2.7"); got != http.StatusSeeOther {
		t.Fatalf("the admin's sign-in through the same proxy: %d, want 303", got)
	}
}

// Signing in renews the session ID: the cookie from before no longer authenticates.
func TestSessionRotation(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	first := f.signIn(t, "olga")
	resp := f.login("root", password, "", first)
	second := sessionCookie(t, resp)
	if second.Value == first.Value {
		t.Fatal("signing in kept the session ID")
	}
	if resp := f.dashboard(first); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old session after a new sign-in: %d, want 303 to the login page", resp.StatusCode)
	}
	if resp := f.dashboard(second); readBody(resp) != "id=root name=Root admin=true roles=" {
		t.Error("the renewed session is not root's")
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	userstest.Each(t, testLogout)
}

func testLogout(t *testing.T, db userstest.DB) {
	f := setup(t, options{db: &db})
	c := f.signIn(t, "root")
	countSessions := func() int {
		var n int
		if err := f.db.DB.QueryRow("SELECT COUNT(*) FROM asyncmq_admin_sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if countSessions() != 1 {
		t.Fatalf("%d stored sessions after sign-in, want 1", countSessions())
	}

	// GET only asks: a link or an image must not sign anyone out.
	resp := f.do(request{method: "GET", path: "/asyncmq/logout", cookie: c})
	if body := readBody(resp); resp.StatusCode != 200 || !strings.Contains(body, `<form method="post" action="/asyncmq/logout">`) {
		t.Errorf("GET logout: %d %q, want a confirmation form", resp.StatusCode, body)
	}
	if resp := f.dashboard(c); resp.StatusCode != 200 {
		t.Fatalf("after GET logout the session ended: %d", resp.StatusCode)
	}

	resp = f.do(request{method: "POST", path: "/asyncmq/logout", cookie: c})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/asyncmq/login" {
		t.Errorf("POST logout: %d Location %q, want 303 /asyncmq/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := countSessions(); n != 0 {
		t.Errorf("%d stored sessions after logout, want 0: the session must end on the server", n)
	}
	if resp := f.dashboard(c); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old cookie after logout: %d, want 303 to the login page", resp.StatusCode)
	}

	// HTMX gets a client-side redirect instead of a 303 its XHR would follow.
	c = f.signIn(t, "root")
	resp = f.do(request{method: "POST", path: "/asyncmq/logout", cookie: c, header: http.Header{"Hx-Request": {"true"}}})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") != "/asyncmq/login" {
		t.Errorf("HTMX logout: %d HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
}

// Changes to an account end its sessions on the very next request.
func TestAccountChangesEndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(s users.Store) error
		// undo, when set, reverts the change after the refused request: the old session must
		// stay ended.
		undo func(s users.Store) error
	}{
		{name: "disabled", change: func(s users.Store) error { return s.SetActive(ctx, "root", false) }},
		{name: "disabled, then enabled again",
			change: func(s users.Store) error { return s.SetActive(ctx, "root", false) },
			undo:   func(s users.Store) error { return s.SetActive(ctx, "root", true) }},
		{name: "removed", change: func(s users.Store) error { return s.Remove(ctx, "root") }},
		{name: "password changed", change: func(s users.Store) error {
			h, err := testHasher.Hash("a brand new password")
			if err != nil {
				return err
			}
			return s.SetPassword(ctx, "root", h)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			userstest.Each(t, func(t *testing.T, db userstest.DB) {
				f := setup(t, options{db: &db})
				c := f.signIn(t, "root")
				if err := tt.change(f.store); err != nil {
					t.Fatal(err)
				}
				if resp := f.dashboard(c); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("next request: %d, want 303 to the login page", resp.StatusCode)
				}
				if tt.undo == nil {
					return
				}
				if err := tt.undo(f.store); err != nil {
					t.Fatal(err)
				}
				if resp := f.dashboard(c); resp.StatusCode != http.StatusSeeOther {
					t.Errorf("undoing the change revived the old session: %d", resp.StatusCode)
				}
			})
		})
	}
}

// A bcrypt hash (say, imported from another system) signs in and is replaced by argon2id.
func TestBcryptUpgradedAtSignIn(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	bc, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetPassword(context.Background(), "olga", string(bc)); err != nil {
		t.Fatal(err)
	}
	c := f.signIn(t, "olga")
	u, err := f.store.Get(context.Background(), "olga")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("hash after sign-in %q, want argon2id", u.PasswordHash[:7])
	}
	// The upgrade is not a password change: the session it created stays valid.
	if resp := f.dashboard(c); resp.StatusCode != 200 {
		t.Errorf("session after the upgrade: %d, want 200", resp.StatusCode)
	}
	f.signIn(t, "olga")
}

// A store outage is 503 at sign-in and behind the gate, logged, never a 200 or a login loop.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	f := setup(t, options{memSessions: true})
	c := f.signIn(t, "root")
	f.db.DB.Close()
	resp := f.login("root", password, "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in during the outage: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp = f.dashboard(c)
	if body := readBody(resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Authentication backend unavailable") {
		t.Errorf("dashboard during the outage: %d %q", resp.StatusCode, body)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, `load user`) {
		t.Errorf("logs %q lack the store failure", logs)
	}
}

func TestBadForms(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	tests := []struct {
		name       string
		body       string
		ctype      string
		wantStatus int
	}{
		{"empty", "", "application/x-www-form-urlencoded", 401},
		{"no password", "username=root", "application/x-www-form-urlencoded", 401},
		{"bad escape", "username=%zz&password=x", "application/x-www-form-urlencoded", 400},
		{"too large", "username=root&password=" + strings.Repeat("x", 20<<10), "application/x-www-form-urlencoded", 400},
		{"huge username", "username=" + strings.Repeat("a", 4000) + "&password=x", "application/x-www-form-urlencoded", 401},
		{"invalid UTF-8", "username=%ff%fe&password=x", "application/x-www-form-urlencoded", 401},
		{"password in the query only", "", "application/x-www-form-urlencoded", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/asyncmq/login"
			if tt.name == "password in the query only" {
				path += "?username=root&password=" + url.QueryEscape(password)
			}
			req := httptest.NewRequest("POST", path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, req)
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d; body %q", w.Code, tt.wantStatus, w.Body.String())
			}
		})
	}
}

func TestRequiresSession(t *testing.T) {
	t.Parallel()
	b, err := passwordauth.New(passwordauth.Config{Store: &countingStore{}, Hasher: testHasher})
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.New(admin.Config{EnableLogin: true, Backend: b, IncludeSession: new(false)})
	if err == nil || !strings.Contains(err.Error(), "IncludeSession") {
		t.Errorf("admin.New without sessions: %v, want a refusal naming IncludeSession", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  passwordauth.Config
		want string
	}{
		{"no store", passwordauth.Config{}, "Store is required"},
		{"negative burst", passwordauth.Config{Store: &countingStore{}, PerUser: passwordauth.Throttle{Burst: -1}}, "PerUser"},
		{"negative interval", passwordauth.Config{Store: &countingStore{}, PerClient: passwordauth.Throttle{Every: -time.Second}}, "PerClient"},
		{"negative slots", passwordauth.Config{Store: &countingStore{}, MaxConcurrentHashes: -1}, "negative"},
		{"hasher beyond limits", passwordauth.Config{Store: &countingStore{},
			Hasher: users.Hasher{Params: users.HashParams{Memory: 1 << 30, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}}, "memory"},
	}
	for _, tt := range tests {
		if _, err := passwordauth.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

// Whatever the form holds, the answer is a sign-in, a refusal or a throttle: never a 5xx, and
// never a redirect out of the dashboard.
func FuzzLoginForm(f *testing.F) {
	proxies, err := admin.ParseTrustedProxies([]string{"10.0.0.0/24"})
	if err != nil {
		f.Fatal(err)
	}
	fx := setup(f, options{cfg: passwordauth.Config{
		PerUser:   passwordauth.Throttle{Burst: 1 << 20, Every: time.Nanosecond},
		PerClient: passwordauth.Throttle{Burst: 1 << 20, Every: time.Nanosecond},
		ClientKey: passwordauth.ClientFromProxies(proxies),
	}})
	f.Add("root", password, "/asyncmq/jobs/1", "")
	f.Add("root", password, "//evil.example", "203.0.113.1")
	f.Add("ghost", "x", "/%2e%2e/x", "junk, 10.0.0.11")
	f.Add("", "", "", "")
	f.Add("ro\x00ot", "pw\xff", "/asyncmq/\u202e", "[2001:db8::1]:80, ::ffff:198.51.100.7")
	f.Add(" ROOT ", password, "/asyncmq/"+strings.Repeat("a", 3000), "1.1.1.1,,, 10.0.0.12")
	f.Fuzz(func(t *testing.T, user, pw, next, xff string) {
		if strings.ContainsAny(xff, "\r\n\x00") {
			return
		}
		resp := fx.do(request{method: "POST", path: "/asyncmq/login", remote: "10.0.0.10:443",
			header: http.Header{"X-Forwarded-For": {xff}},
			form:   url.Values{"username": {user}, "password": {pw}, "next": {next}}})
		switch resp.StatusCode {
		case http.StatusSeeOther:
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, "/asyncmq/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\") || len(loc) > 2048 {
				t.Fatalf("redirect to %q", loc)
			}
		case http.StatusUnauthorized, http.StatusBadRequest, http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d for user %q next %q", resp.StatusCode, user, next)
		}
	})
}

type countingStore struct {
	*users.SQLStore
	gets atomicInt
}

func (c *countingStore) Get(ctx context.Context, id string) (*users.User, error) {
	c.gets.Add(1)
	return c.SQLStore.Get(ctx, id)
}

type atomicInt struct {
	mu sync.Mutex
	n  int
}

func (a *atomicInt) Add(d int) { a.mu.Lock(); a.n += d; a.mu.Unlock() }
func (a *atomicInt) Load() int { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
