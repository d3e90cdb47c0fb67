package admin_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin"
)

// pageBackend serves page as its login page through admin.WriteLoginPage.
type pageBackend struct {
	fakeBackend
	page admin.LoginPage
}

func (b *pageBackend) Login(w http.ResponseWriter, r *http.Request) {
	p := b.page
	if p.Form != nil {
		f := *p.Form
		f.Next = r.URL.Query().Get("next")
		p.Form = &f
	}
	admin.WriteLoginPage(w, r, http.StatusUnauthorized, p)
}

var (
	stylesheetRE = regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`)
	inlineCodeRE = regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
)

func TestWriteLoginPage(t *testing.T) {
	t.Parallel()
	const hostile = `<script>alert("x")</script>`
	page := admin.LoginPage{
		Title:      "Sign in " + hostile,
		Paragraphs: []admin.Paragraph{{admin.Text("Send the "), admin.Code("X-Token: " + hostile), admin.Text(" header.")}, {admin.Text("Second")}},
		Error:      "Refused " + hostile,
		Form: &admin.LoginForm{Action: "/ops/asyncmq/login", Fields: []admin.LoginField{
			{Name: "user", Label: "User " + hostile, Autocomplete: "username", Autofocus: true, Verbatim: true, MaxLength: 255},
			{Name: "pass", Label: "Password", Type: "password"},
			{Name: "token", Label: "Token", Type: "textarea", Autocomplete: "off"},
		}},
	}
	tests := []struct {
		name    string
		method  string
		target  string
		want    []string
		notWant []string
	}{
		{"every value escaped", http.MethodGet, "/ops/asyncmq/login", []string{
			"<title>Sign in &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; · asyncmq</title>",
			"<h1>Sign in &lt;script&gt;",
			"<p>Send the <code>X-Token: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</code> header.</p>\n<p>Second</p>",
			`<p class="alert" role="alert">Refused &lt;script&gt;`,
			`<form method="post" action="/ops/asyncmq/login">`,
			`<label for="user">User &lt;script&gt;`,
			`<input id="user" name="user" type="text" required autofocus autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="255">`,
			`<input id="pass" name="pass" type="password" required>`,
			`<textarea id="token" name="token" rows="6" required autocomplete="off"></textarea>`,
			`<button type="submit">Sign in</button>`,
			`<link rel="icon" href="data:,">`,
			`<link rel="stylesheet" href="/ops/asyncmq/assets/admin.css?v=`,
		}, []string{hostile, `name="next"`}},
		{"a safe next is carried", http.MethodGet, "/ops/asyncmq/login?next=/ops/asyncmq/queues%3Fstate%3Dfailed",
			[]string{`<input type="hidden" name="next" value="/ops/asyncmq/queues?state=failed">`}, nil},
		{"a foreign next is dropped", http.MethodGet, "/ops/asyncmq/login?next=//evil.example/ops/asyncmq/", nil,
			[]string{`name="next"`, "evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *admin.Config) { c.Backend = &pageBackend{page: page} })
			res := serve(t, http.StripPrefix("/ops", b.handler), request(tt.method, tt.target))
			if res.code != http.StatusUnauthorized {
				t.Fatalf("status %d, want the backend's 401", res.code)
			}
			if ct, cc := res.header.Get("Content-Type"), res.header.Get("Cache-Control"); ct != "text/html; charset=utf-8" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			if m := inlineCodeRE.FindString(res.body); m != "" {
				t.Errorf("the page has inline code %q, which the CSP refuses", m)
			}
			for _, s := range tt.want {
				if !strings.Contains(res.body, s) {
					t.Errorf("page lacks %q:\n%s", s, res.body)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(res.body, s) {
					t.Errorf("page contains %q", s)
				}
			}
		})
	}
}

func TestWriteLoginPageDefaultsAndHEAD(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) {
		c.Backend = &pageBackend{page: admin.LoginPage{Title: "Sign out", Form: &admin.LoginForm{Action: "/asyncmq/logout", Submit: "Sign out"}}}
	})
	res := serve(t, b.handler, request(http.MethodGet, "/asyncmq/login"))
	for _, s := range []string{`<form method="post" action="/asyncmq/logout">`, `<button type="submit">Sign out</button>`} {
		if !strings.Contains(res.body, s) {
			t.Errorf("page lacks %q:\n%s", s, res.body)
		}
	}
	if strings.Contains(res.body, "<label") || strings.Contains(res.body, `class="alert"`) {
		t.Errorf("a page without fields or error shows them:\n%s", res.body)
	}
	head := serve(t, b.handler, request(http.MethodHead, "/asyncmq/login"))
	if head.code != http.StatusUnauthorized || head.body != "" || head.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD: status %d, %d bytes, Content-Type %q; want 401, no body, HTML", head.code, len(head.body), head.header.Get("Content-Type"))
	}
}

// The stylesheet the login pages link is served by the admin itself: before the gate, whatever
// the allowlist, with or without a dashboard, cached for a year at its versioned URL.
func TestLoginStylesheet(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *admin.Config) { c.Backend = &pageBackend{page: admin.LoginPage{Title: "Sign in"}} })
	page := serve(t, b.handler, request(http.MethodGet, "/asyncmq/login"))
	m := stylesheetRE.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("the login page links no stylesheet:\n%s", page.body)
	}
	versioned := m[1]
	tests := []struct {
		name      string
		adjust    func(*admin.Config)
		method    string
		target    string
		header    []string
		wantCode  int
		wantCache string
	}{
		{"versioned, behind login", nil, http.MethodGet, versioned, nil, http.StatusOK, "public, max-age=31536000, immutable"},
		{"unversioned", nil, http.MethodGet, "/asyncmq/assets/admin.css", nil, http.StatusOK, "no-cache"},
		{"stale version", nil, http.MethodGet, "/asyncmq/assets/admin.css?v=old", nil, http.StatusOK, "no-cache"},
		{"HEAD", nil, http.MethodHead, versioned, nil, http.StatusOK, "public, max-age=31536000, immutable"},
		{"revalidated", nil, http.MethodGet, "/asyncmq/assets/admin.css", []string{"If-None-Match", `"` + strings.TrimPrefix(versioned, "/asyncmq/assets/admin.css?v=") + `"`}, http.StatusNotModified, "no-cache"},
		{"empty allowlist", func(c *admin.Config) { c.Allowlist = []string{} }, http.MethodGet, versioned, nil, http.StatusOK, "public, max-age=31536000, immutable"},
		{"no dashboard, no login", func(c *admin.Config) { c.Handler, c.EnableLogin, c.Backend = nil, false, nil }, http.MethodGet, versioned, nil, http.StatusOK, "public, max-age=31536000, immutable"},
		{"mounted at the root", func(c *admin.Config) { c.URLPrefix = "/" }, http.MethodGet, strings.TrimPrefix(versioned, "/asyncmq"), nil, http.StatusOK, "public, max-age=31536000, immutable"},
		{"POST", nil, http.MethodPost, versioned, []string{"Origin", "http://example.com"}, http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := b.handler
			if tt.adjust != nil {
				h = setup(t, tt.adjust).handler
			}
			res := serve(t, h, request(tt.method, tt.target, tt.header...))
			if res.code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", res.code, tt.wantCode, res.body)
			}
			if got := res.header.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tt.wantCache)
			}
			if res.code != http.StatusOK {
				return
			}
			if ct := res.header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if res.header.Get("Content-Security-Policy") == "" {
				t.Error("the stylesheet lacks the security headers")
			}
			if tt.method == http.MethodGet && !strings.Contains(res.body, "body {") {
				t.Errorf("body is not the stylesheet: %.200s", res.body)
			}
		})
	}
}
