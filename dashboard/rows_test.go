package dashboard

import (
	"html"
	"html/template"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// jobRowsHTML is the markup writeJobRows writes for rows.
func jobRowsHTML(rows []jobRow, selectable bool) string {
	var w htmlWriter
	writeJobRows(&w, rows, selectable)
	return w.String()
}

func TestJobRowsHTML(t *testing.T) {
	t.Parallel()
	row := jobRow{ID: "j1", URL: "/asyncmq/queues/q/jobs/j1", Task: "send", State: asyncmqtype.StateFailed, Attempts: "1 / 4",
		Created: "2030-01-01 00:00:00 UTC", CreatedISO: "2030-01-01T00:00:00Z", RunAt: "—", Payload: `{ "a": 1 }`, LastError: "boom"}
	got := string(jobRowsHTML([]jobRow{row}, true))
	want := `<tr data-job-id="j1" data-testid="job-row">
<td class="col-check"><input type="checkbox" name="job_id" value="j1" form="bulk-form" aria-label="Select job j1"></td>
<td class="id-cell"><a class="mono" href="/asyncmq/queues/q/jobs/j1" title="j1">j1</a><button type="button" class="copy" data-copy="j1" title="Copy j1" aria-label="Copy j1" data-testid="copy-id">Copy</button></td>
<td class="wrap">send</td>
<td><span class="badge state-failed" data-field="state">failed</span></td>
<td class="num">1 / 4</td>
<td class="time"><time datetime="2030-01-01T00:00:00Z">2030-01-01 00:00:00 UTC</time></td>
<td class="time">—</td>
<td class="mono clip">{ &#34;a&#34;: 1 }</td>
<td class="clip">boom</td>
</tr>
`
	if got != want {
		t.Errorf("row:\n%s\nwant:\n%s", got, want)
	}
	if got := string(jobRowsHTML([]jobRow{row}, false)); strings.Contains(got, "checkbox") {
		t.Errorf("a row without selection has a checkbox:\n%s", got)
	}
}

// FuzzJobRowsHTML checks that no value can change a row's markup: whatever the job's ID, task,
// payload or error, the row has the tags and attribute quotes of a row of plain values, and the
// page shows each value as it is.
func FuzzJobRowsHTML(f *testing.F) {
	for _, s := range []string{`"><script>alert(1)</script>`, `' onmouseover='x`, "a&b", "\x00", "<!--", "</td></tr>"} {
		f.Add(s, s, s, s)
	}
	plain := jobRow{ID: "x", URL: "/x", Task: "x", State: "x", Attempts: "x", Created: "x", CreatedISO: "x", RunAt: "x", Payload: "x", LastError: "x"}
	shape := markup(string(jobRowsHTML([]jobRow{plain}, true)))
	f.Fuzz(func(t *testing.T, id, task, payload, lastError string) {
		r := plain
		r.ID, r.Task, r.Payload, r.LastError = id, task, payload, lastError
		out := string(jobRowsHTML([]jobRow{r}, true))
		if got := markup(out); got != shape {
			t.Fatalf("values changed the markup: %q\n%s", got, out)
		}
		if !strings.Contains(html.UnescapeString(out), ">"+strings.ReplaceAll(payload, "\x00", "\uFFFD")+"</td>") {
			t.Fatalf("payload %q is not shown as it is:\n%s", payload, out)
		}
	})
}

// markup keeps only the characters that make markup: tag brackets and attribute quotes.
func markup(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>"'`, r) {
			return r
		}
		return -1
	}, s)
}

// TestMarkupEscapesAsTemplates checks that markup built in Go escapes text, attributes and URLs
// exactly as html/template does, so pages do not change when a part moves out of a template.
func TestMarkupEscapesAsTemplates(t *testing.T) {
	t.Parallel()
	tpl := template.Must(template.New("").Parse(`<a href="{{.}}" title="{{.}}">{{.}}</a>`))
	for _, s := range []string{
		"", "plain", "/queues/q/jobs?q=a+b%26c&state=waiting", `<script>"x" & 'y'</script>`, "nul\x00byte",
		"/queues/é ü/jobs?x=1#frag", "a(b)c!*~;,@[]$", "tab\tnew\nline", "\xff\xfe", "%zz%2F",
		"javascript:alert(1)", " JavaScript:x", "data:text/html,x", "HTTPS://example.com/a b", "mailto:a@b", "/a:b", "?x=javascript:y",
	} {
		var want strings.Builder
		if err := tpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		var w htmlWriter
		w.raw(`<a href="`).url(s).raw(`" title="`).esc(s).raw(`">`).esc(s).raw(`</a>`)
		if got := w.String(); got != want.String() {
			t.Errorf("markup of %q = %s, want %s as html/template writes", s, got, want.String())
		}
	}
}

// TestTextEscapesAsHTMLEscapeString checks the rows' escaping against the standard library's.
func TestTextEscapesAsHTMLEscapeString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `<b a="1">'x' & y+z</b>`, "nul\x00", "é\xff"} {
		var w htmlWriter
		if got, want := w.text(s).String(), template.HTMLEscapeString(s); got != want {
			t.Errorf("text(%q) = %q, want %q", s, got, want)
		}
	}
}
