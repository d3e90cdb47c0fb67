package oidcauth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/asyncmq/asyncmq/admin/oidcauth/oidctest"
)

// withQuery returns callback with its query changed by edit.
func withQuery(t *testing.T, callback string, edit func(q url.Values)) string {
	t.Helper()
	u, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestCallbackRefusesQuery covers the refusals decided from the callback's query alone.
func TestCallbackRefusesQuery(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	for _, tc := range []struct {
		name   string
		edit   func(q url.Values)
		status int
	}{
		{"missing state", func(q url.Values) { q.Del("state") }, http.StatusBadRequest},
		{"mismatched state", func(q url.Values) { q.Set("state", "AAAAAAAAAAAAAAAAAAAAAAAAAA") }, http.StatusBadRequest},
		{"repeated state", func(q url.Values) { q.Add("state", q.Get("state")) }, http.StatusBadRequest},
		{"repeated code", func(q url.Values) { q.Add("code", "x") }, http.StatusBadRequest},
		{"no code", func(q url.Values) { q.Del("code") }, http.StatusBadRequest},
		{"control character", func(q url.Values) { q.Set("code", "a\x00b") }, http.StatusBadRequest},
		{"oversized code", func(q url.Values) { q.Set("code", strings.Repeat("c", 5000)) }, http.StatusBadRequest},
		{"issuer mix-up", func(q url.Values) { q.Set("iss", "https://evil.example") }, http.StatusBadRequest},
		{"provider error", func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, http.StatusUnauthorized},
		{"code the provider refuses", func(q url.Values) { q.Set("code", "forged-code") }, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBrowser(t)
			cb := e.authorize(b, "alice", "")
			r := b.get(withQuery(t, cb, tc.edit))
			expect(t, tc.name, r, tc.status, "")
			if !strings.Contains(r.body, "Sign in with Test IdP") {
				t.Errorf("refusal page has no sign-in button:\n%s", r.body)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			expect(t, "dashboard after refusal", b.get(e.url+"/"), http.StatusSeeOther, prefix+"/login?next=")
		})
	}
}

// TestCallbackRefusesReplayedCode: the first visit of a callback signs in, a second visit of
// the same URL (same code, same state) is refused, in the same browser and in another.
func TestCallbackRefusesReplayedCode(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	b := newBrowser(t)
	cb := e.authorize(b, "alice", "")
	expect(t, "first callback", b.get(cb), http.StatusSeeOther, prefix+"/")
	expect(t, "replayed callback", b.get(cb), http.StatusBadRequest, "")
	expect(t, "replayed callback in another browser", newBrowser(t).get(cb), http.StatusBadRequest, "")

	// A HEAD (a link scanner, say) must not spend the state of a sign-in in progress.
	b = newBrowser(t)
	cb = e.authorize(b, "alice", "")
	r := b.do(http.MethodHead, cb, nil, nil)
	expect(t, "HEAD callback", r, http.StatusMethodNotAllowed, "")
	if got := r.header.Get("Allow"); got != "GET" {
		t.Errorf("Allow %q, want GET", got)
	}
	expect(t, "callback after the HEAD", b.get(cb), http.StatusSeeOther, prefix+"/")
}

// TestCallbackRefusesMalformedQuery: queries that do not parse are 400, never 500.
func TestCallbackRefusesMalformedQuery(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	for _, q := range []string{"", "state=%zz&code=a", "state=a;code=b", "code=a", "state=" + strings.Repeat("s", 300) + "&code=a", strings.Repeat("a=b&", 3000)} {
		r := newBrowser(t).get(e.url + "/oidc/callback?" + q)
		expect(t, "callback ?"+q, r, http.StatusBadRequest, "")
	}
	r := newBrowser(t).do(http.MethodPost, e.url+"/oidc/callback?state=a&code=b", url.Values{}, nil)
	// The route is GET only: a POST is no callback, and the gate sends it to the login page.
	expect(t, "POST callback", r, http.StatusSeeOther, prefix+"/login?next=")
}

// TestCallbackRefusesIDToken covers every refusal of the ID token, each forged on the token
// endpoint's answer after a real sign-in.
func TestCallbackRefusesIDToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(c map[string]any)
		sign   func(t *testing.T, e *env, c map[string]any) (string, error)
	}{
		{name: "nonce mismatch", change: func(c map[string]any) { c["nonce"] = "another-nonce" }},
		{name: "nonce missing", change: func(c map[string]any) { delete(c, "nonce") }},
		{name: "audience of another client", change: func(c map[string]any) { c["aud"] = []string{"another-client"}; c["azp"] = "another-client" }},
		{name: "authorized party another client", change: func(c map[string]any) { c["aud"] = []string{clientID, "another-client"}; c["azp"] = "another-client" }},
		{name: "several audiences without azp", change: func(c map[string]any) { c["aud"] = []string{clientID, "another-client"}; delete(c, "azp") }},
		{name: "another issuer", change: func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{name: "expired", change: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }},
		{name: "no subject", change: func(c map[string]any) { delete(c, "sub") }},
		{name: "unsigned (alg none)", sign: func(_ *testing.T, _ *env, c map[string]any) (string, error) {
			h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
			p, _ := json.Marshal(c)
			return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + ".", nil
		}},
		{name: "signed by another key under the provider's kid", sign: func(t *testing.T, e *env, c map[string]any) (string, error) {
			return oidctest.SignJWT(otherKey(t), e.provider.KeyID(), c)
		}},
		{name: "signed by an unknown key", sign: func(t *testing.T, _ *env, c map[string]any) (string, error) {
			return oidctest.SignJWT(otherKey(t), "unknown-kid", c)
		}},
		{name: "HMAC with the client secret", sign: func(_ *testing.T, _ *env, c map[string]any) (string, error) {
			return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(c)).SignedString([]byte(clientSecret))
		}},
		{name: "signature stripped", sign: func(_ *testing.T, e *env, c map[string]any) (string, error) {
			tok, err := e.provider.SignIDToken(c)
			return tok[:strings.LastIndexByte(tok, '.')+1], err
		}},
		{name: "missing", sign: func(*testing.T, *env, map[string]any) (string, error) { return "", nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, envOptions{})
			change := tc.change
			if change == nil {
				change = func(map[string]any) {}
			}
			sign := func(c map[string]any) (string, error) { return e.provider.SignIDToken(c) }
			if tc.sign != nil {
				sign = func(c map[string]any) (string, error) { return tc.sign(t, e, c) }
			}
			e.rewriteIDToken(change, sign)
			b := newBrowser(t)
			r := b.get(e.authorize(b, "alice", ""))
			expect(t, tc.name, r, http.StatusUnauthorized, "")
			if !strings.Contains(r.body, "The identity provider did not sign you in.") {
				t.Errorf("refusal page:\n%s", r.body)
			}
			expect(t, "dashboard after refusal", b.get(e.url+"/"), http.StatusSeeOther, prefix+"/login?next=")
			if a := e.auditLog(); len(a) != 0 {
				t.Errorf("refused token audited as a sign-in: %+v", a)
			}
		})
	}
}

// TestCallbackAcceptsUntouchedRewrite checks the rewriting harness itself: re-signing the
// provider's own claims with its own key still signs in, so each refusal above is the change's.
func TestCallbackAcceptsUntouchedRewrite(t *testing.T) {
	t.Parallel()
	e := setup(t, envOptions{})
	e.rewriteIDToken(func(map[string]any) {}, e.provider.SignIDToken)
	e.signIn(newBrowser(t), "alice")
}
