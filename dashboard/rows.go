package dashboard

import (
	"html/template"
	"strconv"
	"strings"
)

// jobRowsHTML renders the rows of a job listing. The listing is the dashboard's busiest page,
// and in a template each of a row's dozen values costs a reflective call to an escaper, which
// made the rows most of the page's cost; written here they cost a small fraction of that.
// Every value is escaped as template.HTMLEscapeString escapes it, as html/template escapes text and
// quoted attributes; the URL is a path the dashboard built from escaped segments.
func jobRowsHTML(rows []jobRow, selectable bool) template.HTML {
	var w htmlWriter
	// A row is about 1,100 bytes with its checkbox and a short payload.
	w.Grow(len(rows) * 1400)
	for i := range rows {
		r := &rows[i]
		w.raw(`<tr data-job-id="`).text(r.ID).raw(`" data-testid="job-row">`, "\n")
		if selectable {
			w.raw(`<td class="col-check"><input type="checkbox" name="job_id" value="`).text(r.ID).
				raw(`" form="bulk-form" aria-label="Select job `).text(r.ID).raw(`"></td>`, "\n")
		}
		w.raw(`<td class="id-cell"><a class="mono" href="`).text(r.URL).raw(`" title="`).text(r.ID).raw(`">`).text(shortID(r.ID)).
			raw(`</a>`).copyButton(r.ID).raw("</td>\n")
		w.raw(`<td class="wrap">`).text(r.Task).raw("</td>\n")
		w.raw(`<td><span class="badge state-`).text(string(r.State)).raw(`" data-field="state">`).text(string(r.State)).raw("</span></td>\n")
		w.raw(`<td class="num">`).text(r.Attempts).raw("</td>\n")
		w.raw(`<td class="time"><time datetime="`).text(r.CreatedISO).raw(`">`).text(r.Created).raw("</time></td>\n")
		w.raw(`<td class="time">`).text(r.RunAt).raw("</td>\n")
		w.raw(`<td class="mono clip">`).text(r.Payload).raw("</td>\n")
		w.raw(`<td class="clip">`).text(r.LastError).raw("</td>\n</tr>\n")
	}
	return template.HTML(w.String())
}

// htmlWriter builds markup: raw writes markup as given, text writes a value escaped for HTML
// text or a quoted attribute.
type htmlWriter struct{ strings.Builder }

func (w *htmlWriter) raw(markup ...string) *htmlWriter {
	for _, m := range markup {
		w.WriteString(m)
	}
	return w
}

func (w *htmlWriter) text(s string) *htmlWriter { return w.escape(s, false) }

// esc writes s escaped as html/template escapes a string in text and in quoted attributes, so
// markup built here matches what the templates wrote.
func (w *htmlWriter) esc(s string) *htmlWriter { return w.escape(s, true) }

// escape writes s with the characters template.HTMLEscapeString escapes replaced, and with "+"
// too when plus is set, as html/template's escaper does. Most values have none of them and are
// written in one piece.
func (w *htmlWriter) escape(s string, plus bool) *htmlWriter {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case 0:
			rep = "\uFFFD"
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			if !plus {
				continue
			}
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(rep)
		last = i + 1
	}
	w.WriteString(s[last:])
	return w
}

// copyButton writes the button that copies value to the clipboard; app.js handles its click,
// so the page needs no inline script. It matches the "copy" template in _partials.html.
func (w *htmlWriter) copyButton(value string) *htmlWriter {
	return w.raw(`<button type="button" class="copy" data-copy="`).text(value).raw(`" title="Copy `).text(value).
		raw(`" aria-label="Copy `).text(value).raw(`" data-testid="copy-id">Copy</button>`)
}

// url writes a URL in a quoted attribute as html/template does: bytes outside the characters a
// URL may hold are percent-encoded, then the result is escaped.
func (w *htmlWriter) url(s string) *htmlWriter {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0,
			// A percent sign stays when it starts an escape.
			c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(s)+8), s[:i]...)
		}
		b = append(b, '%', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
	}
	if b != nil {
		s = string(b)
	}
	return w.esc(s)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// stateTabsHTML renders the state tabs of a queue's jobs page; see jobRowsHTML for why here.
func stateTabsHTML(queue string, states []stateCount) template.HTML {
	var w htmlWriter
	w.Grow(len(states) * 256)
	for _, s := range states {
		w.raw(`<a href="`).url(s.URL).raw(`"`)
		if s.Current {
			w.raw(` aria-current="page"`)
		}
		w.raw(` data-state-tab="`).esc(string(s.State)).raw(`">`).esc(string(s.State)).
			raw(` <span class="count" data-count data-queue="`).esc(queue).raw(`" data-state="`).esc(string(s.State)).
			raw(`">`).esc(s.Count).raw(`</span></a>`)
	}
	return template.HTML(w.String())
}

// bulkFormHTML renders the bulk action form of a listing for scope "selected" (the jobs
// ticked on the page) or "matching" (every job the filter matches).
func bulkFormHTML(d *jobListData, scope string) template.HTML {
	var w htmlWriter
	w.Grow(1024)
	w.raw("\n<form ")
	if scope == "selected" {
		w.raw(`id="bulk-form" `)
	}
	w.raw(`method="post" action="`).url(d.BulkURL).raw(`" class="bulk-bar" data-testid="bulk-`, scope, `">`, "\n")
	w.raw(`<input type="hidden" name="scope" value="`, scope, `">`)
	w.raw(`<input type="hidden" name="state" value="`).esc(string(d.Filter.State)).
		raw(`"><input type="hidden" name="task" value="`).esc(d.Filter.Task).
		raw(`"><input type="hidden" name="match_id" value="`).esc(d.Filter.ID).
		raw(`"><input type="hidden" name="q" value="`).esc(d.Filter.Text).
		raw(`"><input type="hidden" name="return_to" value="`).esc(d.Return).raw(`">`, "\n")
	if scope == "selected" {
		w.raw("<span>With selected jobs:</span>\n")
	} else {
		w.raw(`<span>`).esc(d.Matching).raw("</span>\n")
	}
	for _, a := range d.Bulk {
		w.raw(`<button type="submit" name="action" value="`).esc(a).raw(`" class="button`)
		if a == "remove" {
			w.raw(` button-danger`)
		}
		w.raw(`" data-testid="bulk-`).esc(a).raw(`-`, scope, `">`).esc(a)
		if scope == "matching" {
			w.raw(` all…`)
		}
		w.raw(`</button>`)
	}
	w.raw("\n</form>\n")
	return template.HTML(w.String())
}

// HTML renders the pager; see jobRowsHTML for why here rather than in a template.
func (p pager) HTML() template.HTML {
	var w htmlWriter
	w.Grow(1024)
	w.raw("\n", `<nav class="pager" aria-label="Pagination" data-testid="pager">`, "\n",
		`<span class="pager-label" data-testid="page-label">`).esc(p.Label).raw("</span>\n")
	if p.Known {
		w.raw(`<span class="pager-total">`).esc(p.TotalText).raw(" total</span>\n")
	}
	w.raw(`<span class="pager-links">`, "\n")
	link := func(url, rel, label string) {
		if url == "" {
			w.raw(`<span class="disabled">`, label, `</span>`)
			return
		}
		w.raw(`<a href="`).url(url).raw(`" rel="`, rel, `">`, label, `</a>`)
	}
	link(p.FirstURL, "first", "First")
	w.raw(" ")
	link(p.PrevURL, "prev", "Previous")
	w.raw("\n")
	link(p.NextURL, "next", "Next")
	if p.Known {
		w.raw(" ")
		link(p.LastURL, "last", "Last")
	}
	w.raw("\n</span>\n", `<span class="pager-sizes">Rows:`, "\n")
	for _, l := range p.SizeLinks {
		size := strconv.Itoa(l.Size)
		if l.URL != "" {
			w.raw(`<a href="`).url(l.URL).raw(`">`, size, `</a> `)
		} else {
			w.raw(`<strong aria-current="true">`, size, `</strong> `)
		}
	}
	w.raw("\n</span>\n</nav>\n")
	return template.HTML(w.String())
}
