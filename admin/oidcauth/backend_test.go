package oidcauth_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin/oidcauth"
)

func TestLoginPageOffersProviderButton(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	b := newBrowser(t)

	r := b.get(e.url + "/")
	expect(t, "anonymous dashboard", r, http.StatusSeeOther, prefix+"/login?next=")

	r = b.get(e.url + "/login?next=" + url.QueryEscape(prefix+"/queues"))
	expect(t, "login page", r, http.StatusOK, "")
	for _, want := range []string{`<button type="submit">Sign in with Test IdP</button>`, `<form method="post" action="/asyncmq/login">`, `name="next" value="/asyncmq/queues"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("login page lacks %s:\n%s", want, r.body)
		}
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

func TestSignInGivesMappedRole(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	for _, tc := range []struct {
		user, want string
	}{
		{"alice", "user=alice name=Alice roles=admin admin=true"},   // group asyncmq-admins → admin
		{"bob", "user=bob name=Bob roles=operator admin=false"},     // group ops → operator
		{"carol", "user=carol name=Carol roles=viewer admin=false"}, // allowed domain, no group → viewer
		{"paid", ""}, // matches nothing here
	} {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			b := newBrowser(t)
			cb := e.authorize(b, tc.user, "")
			r := b.get(cb)
			if tc.want == "" {
				expect(t, "callback", r, http.StatusForbidden, "")
				return
			}
			expect(t, "callback", r, http.StatusSeeOther, prefix+"/")
			r = b.get(e.url + "/")
			expect(t, "dashboard", r, http.StatusOK, "")
			if r.body != tc.want {
				t.Fatalf("dashboard says %q, want %q", r.body, tc.want)
			}
		})
	}
}

func TestSignInSessionCookie(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	b := newBrowser(t)
	cb := e.authorize(b, "alice", "")
	before := sessionCookie(b, e.url)
	r := b.get(cb)
	expect(t, "callback", r, http.StatusSeeOther, prefix+"/")
	after := sessionCookie(b, e.url)
	if after == "" || after == before {
		t.Fatalf("session cookie %q before sign-in, %q after: want a new one", before, after)
	}
	var setCookie string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "asyncmq_session=") {
			setCookie = c
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=" + prefix} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("callback Cache-Control %q, want no-store", got)
	}
}

func sessionCookie(b *browser, base string) string {
	u, _ := url.Parse(base + prefix + "/") // the cookie is scoped to the mount path
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "asyncmq_session" {
			return c.Value
		}
	}
	return ""
}

func TestSignInNestedRolesClaim(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{mutate: func(c *oidcauth.Config) {
		c.RolesClaim = "realm_access.roles"
		c.RoleMap = map[string]string{"queue-operators": "operator"}
		c.AllowedDomains = nil
	}})
	b := newBrowser(t)
	e.signIn(b, "kc")
	r := b.get(e.url + "/")
	expect(t, "dashboard", r, http.StatusOK, "")
	if want := "user=kc name=Keycloak User roles=operator admin=false"; r.body != want {
		t.Fatalf("dashboard says %q, want %q", r.body, want)
	}
	// alice's "groups" claim is not read any more: she matches nothing.
	r = newBrowserGet(t, e, "alice")
	expect(t, "alice", r, http.StatusForbidden, "")
}

func newBrowserGet(t *testing.T, e *env, user string) response {
	b := newBrowser(t)
	return b.get(e.authorize(b, user, ""))
}

func TestRequiredClaimAndAllowedGroups(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{mutate: func(c *oidcauth.Config) {
		c.RoleMap = nil
		c.AllowedDomains = nil
		c.RequiredClaim = "plan=enterprise"
		c.AllowedGroups = []string{"ops"}
		c.DefaultRole = "operator"
	}})
	for user, status := range map[string]int{"paid": http.StatusSeeOther, "bob": http.StatusSeeOther, "carol": http.StatusForbidden, "alice": http.StatusForbidden} {
		r := newBrowserGet(t, e, user)
		expect(t, user, r, status, "")
	}
}

func TestDeniedUserGets403AndIsAudited(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	for _, user := range []string{"mallory", "dave"} { // dave's corp.example address is unverified
		b := newBrowser(t)
		r := b.get(e.authorize(b, user, ""))
		expect(t, user+" callback", r, http.StatusForbidden, "")
		if r.body != "Dashboard user is not authorized" {
			t.Errorf("%s: body %q, want the gate's", user, r.body)
		}
		if got := r.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", user, got)
		}
		r = b.get(e.url + "/")
		expect(t, user+" dashboard afterwards", r, http.StatusSeeOther, prefix+"/login?next=")
	}
	e.signIn(newBrowser(t), "alice")
	var got []string
	for _, a := range e.auditLog() {
		got = append(got, a.Actor+" "+a.Action+" "+a.Status)
		if a.Actor == "mallory" && !strings.Contains(a.Detail, "mallory@evil.example") {
			t.Errorf("audit detail %q lacks the email", a.Detail)
		}
	}
	want := []string{"mallory auth.login denied", "dave auth.login denied", "alice auth.login success"}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log %q, want %q", got, want)
	}
}

func TestNextGoesThroughSafeRedirect(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	for next, want := range map[string]string{
		prefix + "/queues?state=failed": prefix + "/queues?state=failed",
		"//evil.example/":               prefix + "/",
		"https://evil.example/":         prefix + "/",
		"/\t/evil.example":              prefix + "/",
	} {
		b := newBrowser(t)
		r := b.get(e.authorize(b, "alice", next))
		expect(t, "callback for next "+next, r, http.StatusSeeOther, "")
		if got := r.header.Get("Location"); got != want {
			t.Errorf("next %q: Location %q, want %q", next, got, want)
		}
	}
}

func TestCrossOriginSignInRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	b := newBrowser(t)
	r := b.do(http.MethodPost, e.url+"/login", url.Values{}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
	expect(t, "cross-site sign-in", r, http.StatusForbidden, "")
	if r.body != "Cross-origin dashboard request rejected" {
		t.Errorf("body %q", r.body)
	}
}

func TestRefreshRenewsSession(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{lifetime: 2 * time.Second})
	b := newBrowser(t)
	e.signIn(b, "bob")
	time.Sleep(3 * time.Second)
	r := b.get(e.url + "/")
	expect(t, "dashboard after expiry", r, http.StatusOK, "")
	if !strings.Contains(r.body, "roles=operator") {
		t.Fatalf("dashboard says %q", r.body)
	}
	if n := e.provider.Refreshes(); n != 1 {
		t.Fatalf("provider saw %d refreshes, want 1", n)
	}
	r = b.get(e.url + "/")
	expect(t, "dashboard right after renewal", r, http.StatusOK, "")
	if n := e.provider.Refreshes(); n != 1 {
		t.Fatalf("provider saw %d refreshes, want still 1", n)
	}

	// Requests arriving together after the next expiry share one renewal: the provider rotates
	// refresh tokens, so a second redemption of the same token would end the session.
	time.Sleep(3 * time.Second)
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Go(func() { statuses[i] = b.get(e.url + "/").status })
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("concurrent request %d after expiry: status %d, want 200", i, st)
		}
	}
	if n := e.provider.Refreshes(); n != 2 {
		t.Fatalf("provider saw %d refreshes, want 2", n)
	}
	expect(t, "dashboard after the concurrent renewal", b.get(e.url+"/"), http.StatusOK, "")
}

func TestSessionEndsWhenRenewedTokenNoLongerAdmits(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{lifetime: 2 * time.Second})
	b := newBrowser(t)
	e.signIn(b, "bob")
	// From now on the provider says bob left the "ops" group.
	e.rewriteIDToken(func(c map[string]any) { c["groups"] = []string{"former-staff"} }, e.provider.SignIDToken)
	time.Sleep(3 * time.Second)
	expect(t, "dashboard after renewal without a role", b.get(e.url+"/"), http.StatusSeeOther, prefix+"/login?next=")
}

func TestSessionEndsWhenProviderRefusesRenewal(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{lifetime: 2 * time.Second})
	b := newBrowser(t)
	e.signIn(b, "bob")
	e.provider.RevokeRefreshTokens("bob")
	time.Sleep(3 * time.Second)
	r := b.get(e.url + "/")
	expect(t, "dashboard after refused renewal", r, http.StatusSeeOther, prefix+"/login?next=")
	r = b.get(e.url + "/")
	expect(t, "dashboard again", r, http.StatusSeeOther, prefix+"/login?next=")
}

func TestSessionEndsWithIDTokenWithoutRefreshToken(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{lifetime: 2 * time.Second, mutate: func(c *oidcauth.Config) { c.Scopes = nil }})
	b := newBrowser(t)
	e.signIn(b, "alice")
	expect(t, "dashboard before expiry", b.get(e.url+"/"), http.StatusOK, "")
	time.Sleep(3 * time.Second)
	expect(t, "dashboard after expiry", b.get(e.url+"/"), http.StatusSeeOther, prefix+"/login?next=")
	if n := e.provider.Refreshes(); n != 0 {
		t.Fatalf("provider saw %d refreshes, want 0", n)
	}
}

func TestSessionBoundedByMaxLifetime(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{mutate: func(c *oidcauth.Config) { c.MaxSessionLifetime = 2 * time.Second }})
	b := newBrowser(t)
	e.signIn(b, "alice")
	expect(t, "dashboard before the maximum", b.get(e.url+"/"), http.StatusOK, "")
	time.Sleep(3 * time.Second)
	expect(t, "dashboard after the maximum", b.get(e.url+"/"), http.StatusSeeOther, prefix+"/login?next=")
	if n := e.provider.Refreshes(); n != 0 {
		t.Fatalf("provider saw %d refreshes, want 0", n)
	}
}

func TestLogoutEndsProviderSession(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	if got, want := e.backend.EndSessionEndpoint(), e.provider.URL+"/end_session"; got != want {
		t.Fatalf("end_session_endpoint %q, want %q", got, want)
	}
	b := newBrowser(t)
	e.signIn(b, "alice")

	r := b.get(e.url + "/logout")
	expect(t, "logout page", r, http.StatusOK, "")
	if !strings.Contains(r.body, `<button type="submit">Sign out</button>`) {
		t.Fatalf("logout page has no sign-out button:\n%s", r.body)
	}
	expect(t, "still signed in after GET /logout", b.get(e.url+"/"), http.StatusOK, "")

	r = b.post(e.url+"/logout", url.Values{})
	expect(t, "logout", r, http.StatusOK, "")
	refresh := r.header.Get("Refresh")
	if !strings.HasPrefix(refresh, "0; url="+e.provider.URL+"/end_session?") {
		t.Fatalf("logout: Refresh %q, want the provider's end_session_endpoint", refresh)
	}
	if !strings.Contains(r.body, "You are signed out of the dashboard.") {
		t.Errorf("logout page:\n%s", r.body)
	}
	end, _ := url.Parse(strings.TrimPrefix(refresh, "0; url="))
	q := end.Query()
	if q.Get("client_id") != clientID || q.Get("post_logout_redirect_uri") != e.url+"/login" || q.Get("id_token_hint") == "" {
		t.Fatalf("end session request %q lacks client_id, post_logout_redirect_uri or id_token_hint", end)
	}
	if c := sessionCookie(b, e.url); c != "" {
		t.Errorf("session cookie %q survives logout", c)
	}
	r = b.get(end.String())
	expect(t, "provider end session", r, http.StatusFound, e.url+"/login")
	if n := e.provider.Logouts(); n != 1 {
		t.Fatalf("provider ended %d sessions, want 1", n)
	}
	expect(t, "login page after logout", b.get(r.header.Get("Location")), http.StatusOK, "")
	expect(t, "dashboard after logout", b.get(e.url+"/"), http.StatusSeeOther, prefix+"/login?next=")

	r = b.do(http.MethodPost, e.url+"/logout", url.Values{}, http.Header{"Hx-Request": {"true"}})
	expect(t, "HTMX logout", r, http.StatusNoContent, "")
	if !strings.HasPrefix(r.header.Get("HX-Redirect"), e.provider.URL+"/end_session?") {
		t.Fatalf("HTMX logout HX-Redirect %q", r.header.Get("HX-Redirect"))
	}
}
