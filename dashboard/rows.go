package dashboard

import (
	"bytes"
	"html/template"
	"strconv"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// writeJobRows writes the rows of a job listing. The listing is the dashboard's busiest page,
// and in a template each of a row's dozen values costs a reflective call to an escaper, which
// made the rows most of the page's cost; written here they cost a small fraction of that.
// Every value is escaped as template.HTMLEscapeString escapes it, as html/template escapes text and
// quoted attributes; the URL is a path the dashboard built from escaped segments.
func writeJobRows(w *htmlWriter, rows []jobRow, selectable bool) {
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
}

// htmlWriter builds markup: raw writes markup as given, text writes a value escaped for HTML
// text or a quoted attribute. Pages are written into one (see render); the parts some templates
// still show are rendered into their own and handed over as template.HTML.
type htmlWriter struct{ bytes.Buffer }

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

// url writes a URL in a quoted attribute as html/template does: a URL with a scheme other than
// http, https or mailto becomes "#ZgotmplZ", bytes outside the characters a URL may hold are
// percent-encoded, then the result is escaped.
func (w *htmlWriter) url(s string) *htmlWriter {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") {
		switch strings.ToLower(scheme) {
		case "http", "https", "mailto":
		default:
			s = "#ZgotmplZ"
		}
	}
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

// writeStateTabs writes the state tabs of a queue's jobs page.
func writeStateTabs(w *htmlWriter, queue string, states []stateCount) {
	for _, s := range states {
		w.raw(`<a href="`).url(s.URL).raw(`"`)
		if s.Current {
			w.raw(` aria-current="page"`)
		}
		w.raw(` data-state-tab="`).esc(string(s.State)).raw(`">`).esc(string(s.State)).
			raw(` <span class="count" data-count data-queue="`).esc(queue).raw(`" data-state="`).esc(string(s.State)).
			raw(`">`).esc(s.Count).raw(`</span></a>`)
	}
}

// writeBulkForm writes the bulk action form of a listing for scope "selected" (the jobs
// ticked on the page) or "matching" (every job the filter matches).
func writeBulkForm(w *htmlWriter, d *jobListData, scope string) {
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
}

// HTML renders the pager for the templates that show one.
func (p pager) HTML() template.HTML {
	var w htmlWriter
	p.writeTo(&w)
	return template.HTML(w.String())
}

// writeTo writes the pager: its label, the neighbouring pages and the page sizes.
func (p *pager) writeTo(w *htmlWriter) {
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
}

// HTML renders the tabs for the templates of a queue's pages.
func (q queueTabs) HTML() template.HTML {
	var w htmlWriter
	q.writeTo(&w)
	return template.HTML(w.String())
}

// writeTo writes the tabs linking a queue's pages, marking the current one.
func (q queueTabs) writeTo(w *htmlWriter) {
	tab := func(url, name, label string) {
		w.raw(`<a href="`).url(url).raw(`"`)
		if q.Current == name {
			w.raw(` aria-current="page"`)
		}
		w.raw(`>`, label, "</a>\n")
	}
	w.raw("\n", `<nav class="tabs" aria-label="Queue sections">`, "\n")
	tab(q.Detail, "detail", "Details")
	tab(q.Jobs, "jobs", "Jobs")
	tab(q.DLQ, "dlq", "Dead letters")
	tab(q.Repeatables, "repeatables", "Repeatables")
	w.raw("</nav>\n")
}

// writeContent writes a job listing page's content: the queue's tabs, the state tabs (jobs
// page) or the dead-letter intro, the filter form and the list.
func (d *jobListData) writeContent(w *htmlWriter, p *page) {
	w.raw("\n")
	if d.DLQ {
		p.QueueTabs(d.Name, "dlq").writeTo(w)
		w.raw("\n", `<p class="muted">Jobs that failed their last attempt. Retry them to run them again from a clean slate, or remove them.</p>`, "\n")
	} else {
		p.QueueTabs(d.Name, "jobs").writeTo(w)
		w.raw("\n", `<nav class="tabs state-tabs" aria-label="Job states">`, "\n")
		writeStateTabs(w, d.Name, d.States)
		w.raw("\n</nav>\n")
	}
	d.writeFilter(w)
	w.raw("\n")
	d.writeList(w)
	w.raw("\n")
}

// writeFragment writes the element htmx asked for by id, reporting whether the page has it.
func (d *jobListData) writeFragment(w *htmlWriter, _ *page, target string) bool {
	if target != "job-list" {
		return false
	}
	d.writeList(w)
	return true
}

// writeFilter writes the listing's filter form, which keeps the current page size.
func (d *jobListData) writeFilter(w *htmlWriter) {
	w.raw("\n", `<form method="get" class="filters" role="search" aria-label="Filter jobs" data-testid="job-filter">`, "\n")
	if !d.DLQ {
		w.raw(`<input type="hidden" name="state" value="`).esc(string(d.Filter.State)).raw(`">`)
	}
	w.raw("\n", `<div class="field"><label for="f-q">Search</label><input id="f-q" name="q" value="`).esc(d.Filter.Text).
		raw(`" placeholder="Payload text"></div>`, "\n")
	w.raw(`<div class="field"><label for="f-task">Task</label><input id="f-task" name="task" value="`).esc(d.Filter.Task).
		raw(`" placeholder="Task name"></div>`, "\n")
	w.raw(`<div class="field"><label for="f-id">Job ID</label><input id="f-id" name="job_id" value="`).esc(d.Filter.ID).
		raw(`" placeholder="Part of an ID"></div>`, "\n")
	w.raw(`<div class="field"><label for="f-sort">Sort</label><select id="f-sort" name="sort"><option value="newest"`)
	if d.Filter.Sort != asyncmqtype.SortOldest {
		w.raw(` selected`)
	}
	w.raw(`>Newest first</option><option value="oldest"`)
	if d.Filter.Sort == asyncmqtype.SortOldest {
		w.raw(` selected`)
	}
	w.raw(`>Oldest first</option></select></div>`, "\n", `<div class="field"><label for="f-size">Rows</label><select id="f-size" name="size">`)
	for _, l := range d.Pager.SizeLinks {
		size := strconv.Itoa(l.Size)
		w.raw(`<option value="`, size, `"`)
		if l.URL == "" {
			w.raw(` selected`)
		}
		w.raw(`>`, size, `</option>`)
	}
	w.raw("</select></div>\n", `<button type="submit" class="button">Apply</button>`, "\n</form>\n")
}

// writeList writes the job-list section: the count, the bulk forms, the table and the pager.
// htmx replaces it alone when the page's live updates or filters ask for it.
func (d *jobListData) writeList(w *htmlWriter) {
	w.raw("\n", `<section id="job-list" class="panel" data-live-list data-queue="`).esc(d.Name).
		raw(`" data-state="`).esc(string(d.Filter.State)).raw(`" aria-label="Jobs">`, "\n")
	if d.Clamped {
		w.raw(`<p class="notice" role="status">That page is past the end; showing the last page.</p>`)
	}
	w.raw("\n", `<p class="muted" data-testid="job-count">`).esc(d.Found).raw("</p>\n")
	w.raw(`<p class="notice" hidden data-stale-notice>There is new activity in this queue. <a href="`).url(d.Return).
		raw(`">Refresh</a></p>`, "\n")
	if d.Selectable {
		writeBulkForm(w, d, "selected")
	}
	w.raw("\n\n", `<table class="table job-table" data-testid="job-table">`, "\n<thead><tr>\n")
	if d.Selectable {
		w.raw(`<th scope="col" class="col-check"><input type="checkbox" data-select-all="job_id" aria-label="Select all jobs on this page"></th>`)
	}
	w.raw("\n", `<th scope="col" class="col-id">Job ID</th><th scope="col" class="col-task">Task</th><th scope="col" class="col-state">State</th><th scope="col" class="col-attempts">Attempts</th><th scope="col" class="col-time">Created</th><th scope="col" class="col-time">Run at</th><th scope="col">Payload</th><th scope="col">Last error</th>`,
		"\n</tr></thead>\n<tbody>\n")
	if len(d.Rows) > 0 {
		writeJobRows(w, d.Rows, d.Selectable)
	} else {
		w.raw(`<tr><td colspan="9" class="empty">No jobs match.</td></tr>`, "\n")
	}
	w.raw("</tbody>\n</table>\n\n")
	if d.Selectable {
		writeBulkForm(w, d, "matching")
	}
	w.raw("\n")
	d.Pager.writeTo(w)
	w.raw("\n</section>\n")
}

// writeEventRows writes the rows of the event history: up to a thousand events, each with a
// dozen values, which in a template cost reflective escaper calls that made the page a hundred
// times dearer than the rest of the dashboard's.
func writeEventRows(w *htmlWriter, rows []eventRow) {
	if len(rows) == 0 {
		w.raw(`<tr><td colspan="8" class="empty">No events match.</td></tr>`)
		return
	}
	w.Grow(len(rows) * 700)
	for i := range rows {
		e := &rows[i]
		w.raw(`<tr><td class="mono" title="`).esc(e.Cursor).raw(`">`).esc(shortID(e.Cursor)).
			raw(`</td><td class="time"><time datetime="`).esc(e.AtISO).raw(`">`).esc(e.At).
			raw(`</time></td><td class="mono event-type">`).esc(e.Type).
			raw(`</td><td class="wrap"><a href="`).url(e.QueueURL).raw(`">`).esc(e.Queue).raw("</a></td>\n", `<td class="id-cell">`)
		if e.JobID != "" {
			w.raw(`<a class="mono" href="`).url(e.JobURL).raw(`" title="`).esc(e.JobID).raw(`">`).esc(shortID(e.JobID)).raw(`</a>`)
			w.copyButton(e.JobID)
		}
		w.raw(`</td><td class="wrap">`).esc(e.Task).raw(`</td><td>`)
		if e.State != "" {
			w.raw(`<span class="badge state-`).esc(string(e.State)).raw(`" data-field="state">`).esc(string(e.State)).raw(`</span>`)
		}
		w.raw(`</td><td class="wrap">`).esc(e.Detail).raw("</td></tr>\n")
	}
}
