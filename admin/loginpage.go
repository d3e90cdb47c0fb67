package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// LoginPage is the content of a sign-in or sign-out page, which WriteLoginPage renders in the
// admin's one layout: the same look, stylesheet and security for every auth backend.
// Every value is text and is escaped; the page has no inline script or style, so it renders
// under DefaultContentSecurityPolicy.
type LoginPage struct {
	// Title is the page's heading and title, such as "Sign in".
	Title string
	// Paragraphs are the page's text, under the heading.
	Paragraphs []Paragraph
	// Error, when not empty, is shown as an alert above the form.
	Error string
	// Form, when not nil, is a form posting to Form.Action.
	Form *LoginForm
}

// Paragraph is one paragraph of a login page: text with code spans, such as
// admin.Paragraph{admin.Text("Send the "), admin.Code("Authorization"), admin.Text(" header.")}.
type Paragraph []Span

// Span is a run of a paragraph's text; Code shows it as code.
type Span struct {
	Text string
	Code bool
}

// Text returns a span of plain text.
func Text(s string) Span { return Span{Text: s} }

// Code returns a span shown as code, such as a header name.
func Code(s string) Span { return Span{Text: s, Code: true} }

// LoginForm is the form of a login page. Every field is required.
type LoginForm struct {
	// Action is the URL the form posts to, such as LoginURL(r).
	Action string
	// Fields are the form's inputs, in order.
	Fields []LoginField
	// Next, when not empty, is carried in a hidden "next" field: where to go after signing in.
	// It is left out unless SafeRedirect accepts it as it is, so that a page never carries a
	// foreign address forward.
	Next string
	// Submit labels the submit button; default "Sign in".
	Submit string
}

// LoginField is one input of a LoginForm.
type LoginField struct {
	// Name is the field's name and element ID.
	Name string
	// Label is the text of the field's label.
	Label string
	// Type is "text" (the default), "password" or "textarea".
	Type string
	// Autocomplete is the autocomplete attribute, such as "username", "current-password" or
	// "off"; default none.
	Autocomplete string
	// MaxLength bounds the value's length in characters; 0 sets no bound.
	MaxLength int
	// Autofocus focuses the field when the page opens.
	Autofocus bool
	// Verbatim turns off spelling correction and automatic capitals, for user names and tokens.
	Verbatim bool
}

// loginStylesheetPath is where the admin serves the login pages' stylesheet, relative to
// URLPrefix. It lies under "/assets", which the default Allowlist exempts, but the admin serves
// it before the gate whatever Allowlist says, and whether or not a dashboard is configured.
const loginStylesheetPath = "/assets/admin.css"

// loginStylesheet is small enough to keep here: one card on a quiet background, readable on a
// phone, with the dashboard's accent colour.
const loginStylesheet = `/* asyncmq admin: sign-in and sign-out pages. */
:root { --accent: #3b5bdb; --bg: #f5f6f8; --panel: #fff; --text: #1d2330; --muted: #5d6575; --border: #dde1e8; --danger: #c92a2a; color-scheme: light; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center; padding: 1.5rem; background: var(--bg); color: var(--text); font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5; }
main { width: 100%; max-width: 32rem; background: var(--panel); border: 1px solid var(--border); border-top: 4px solid var(--accent); border-radius: 6px; padding: 1.5rem 1.75rem; }
h1 { margin: 0 0 .75rem; font-size: 1.4rem; }
p { margin: 0 0 .9rem; overflow-wrap: anywhere; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; background: #f0f2f5; border: 1px solid var(--border); border-radius: 4px; padding: 0 .25em; }
.alert { color: var(--danger); font-weight: 600; border-left: 4px solid var(--danger); padding: .4rem .75rem; background: #fdecec; border-radius: 4px; }
label { display: block; font-weight: 600; font-size: .9rem; margin-bottom: .3rem; }
input, textarea { display: block; width: 100%; font: inherit; padding: .45rem .6rem; border: 1px solid var(--border); border-radius: 6px; background: #fff; color: var(--text); }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; min-height: 8rem; resize: vertical; }
button { font: inherit; padding: .45rem 1.1rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button:hover { filter: brightness(1.08); }
input:focus-visible, textarea:focus-visible, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
`

// loginStylesheetVersion changes whenever the stylesheet does, so its URL can be cached for
// a year.
var loginStylesheetVersion = func() string {
	sum := sha256.Sum256([]byte(loginStylesheet))
	return hex.EncodeToString(sum[:6])
}()

// loginStylesheetModified is when this process started serving the stylesheet.
var loginStylesheetModified = time.Now().UTC().Truncate(time.Second)

// loginTemplate renders a LoginPage. The icon link keeps browsers from asking the site root for
// /favicon.ico, which the admin does not own.
var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} · asyncmq</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.Stylesheet}}">
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{range .Paragraphs}}<p>{{range .}}{{if .Code}}<code>{{.Text}}</code>{{else}}{{.Text}}{{end}}{{end}}</p>
{{end}}{{with .Error}}<p class="alert" role="alert">{{.}}</p>
{{end}}{{with .Form}}<form method="post" action="{{.Action}}">
{{range .Fields}}<p><label for="{{.Name}}">{{.Label}}</label>
{{if eq .Type "textarea"}}<textarea id="{{.Name}}" name="{{.Name}}" rows="6" required{{template "attrs" .}}></textarea>{{else}}<input id="{{.Name}}" name="{{.Name}}" type="{{.Type}}" required{{template "attrs" .}}>{{end}}</p>
{{end}}{{with .Next}}<input type="hidden" name="next" value="{{.}}">
{{end}}<p><button type="submit">{{.Submit}}</button></p>
</form>
{{end}}</main>
</body>
</html>
{{define "attrs"}}{{if .Autofocus}} autofocus{{end}}{{with .Autocomplete}} autocomplete="{{.}}"{{end}}{{if .Verbatim}} autocapitalize="none" spellcheck="false"{{end}}{{with .MaxLength}} maxlength="{{.}}"{{end}}{{end}}`))

type loginView struct {
	LoginPage
	Stylesheet string
}

// WriteLoginPage writes p as a complete HTML page with status, in the admin's shared layout,
// with the stylesheet the admin serves at BasePath(r) + "/assets/admin.css". It sets
// Content-Type and "Cache-Control: no-store", and writes no body for a HEAD request. Auth
// backends use it for their login and logout pages.
func WriteLoginPage(w http.ResponseWriter, r *http.Request, status int, p LoginPage) {
	if p.Form != nil {
		f := *p.Form
		if f.Submit == "" {
			f.Submit = "Sign in"
		}
		if f.Next != "" && SafeRedirect(r, f.Next) != f.Next {
			f.Next = ""
		}
		f.Fields = append([]LoginField(nil), f.Fields...)
		for i := range f.Fields {
			if f.Fields[i].Type == "" {
				f.Fields[i].Type = "text"
			}
		}
		p.Form = &f
	}
	var buf bytes.Buffer
	err := loginTemplate.Execute(&buf, loginView{LoginPage: p, Stylesheet: loginStylesheetURL(r)})
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if err != nil {
		// Only a bug in the template can get here: the page's values are all text.
		writeText(w, http.StatusInternalServerError, "The page could not be rendered")
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// loginStylesheetURL is the stylesheet's versioned public URL for this request.
func loginStylesheetURL(r *http.Request) string {
	return BasePath(r) + loginStylesheetPath + "?v=" + loginStylesheetVersion
}

// serveLoginStylesheet answers GET and HEAD for the stylesheet: cached for a year at its
// versioned URL, revalidated at any other.
func serveLoginStylesheet(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeText(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == loginStylesheetVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+loginStylesheetVersion+`"`)
	http.ServeContent(w, r, "admin.css", loginStylesheetModified, strings.NewReader(loginStylesheet))
}
