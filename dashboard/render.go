package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

//go:embed templates/*.html
var templateFS embed.FS

// templates holds one template set per page: the shared layout and partials (files starting
// with "_") plus the page's own file, which defines "content" and any fragments.
type templates struct {
	pages map[string]*template.Template
}

func parseTemplates() (*templates, error) {
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil, err
	}
	base := template.New("").Funcs(templateFuncs)
	var pageFiles []string
	for _, e := range entries {
		name := "templates/" + e.Name()
		if strings.HasPrefix(e.Name(), "_") {
			if _, err := base.ParseFS(templateFS, name); err != nil {
				return nil, err
			}
			continue
		}
		pageFiles = append(pageFiles, name)
	}
	t := &templates{pages: make(map[string]*template.Template)}
	for _, f := range pageFiles {
		clone, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := clone.ParseFS(templateFS, f); err != nil {
			return nil, err
		}
		t.pages[strings.TrimSuffix(path.Base(f), ".html")] = clone
	}
	return t, nil
}

var templateFuncs = template.FuncMap{
	"num":      formatInt,
	"num64":    func(n int64) string { return formatInt(int(n)) },
	"time":     formatTime,
	"ago":      formatAgo,
	"duration": formatDuration,
	"truncate": truncate,
	"add":      func(a, b int) int { return a + b },
	"states":   func() []asyncmqtype.State { return asyncmqtype.States },
	"count": func(q asyncmqtype.QueueInfo, s asyncmqtype.State) int {
		return q.Counts[s]
	},
	"strs": func(s ...string) []string { return s },
	"dict": dict,
	// quantity 3 "job" "jobs" is "3 jobs".
	"quantity": quantity,
	"short":    shortID,
}

// shortIDRunes is how many trailing characters of a long ID the listings show. Job IDs are
// UUIDv7s, whose leading characters are a timestamp shared by every job of the same minute, so
// the tail is the part that tells them apart.
const shortIDRunes = 8

// shortID is the short form of an ID shown in listings: "…" and its last shortIDRunes
// characters, or the whole ID when it is barely longer. The full value goes in a title and a
// copy button beside it.
func shortID(id string) string {
	if len(id) <= shortIDRunes+4 {
		// No more runes than bytes.
		return id
	}
	if isASCII(id) {
		return "…" + id[len(id)-shortIDRunes:]
	}
	r := []rune(id)
	if len(r) <= shortIDRunes+4 {
		return id
	}
	return "…" + string(r[len(r)-shortIDRunes:])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// dict builds the argument map of a partial: dict "Page" . "Queue" $q.Name.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// pageFragments lists, per page, the elements htmx may ask for alone (by HX-Target).
var pageFragments = map[string][]string{
	"jobs": {"job-list"},
	"dlq":  {"job-list"},
	"job":  {"job-panel"},
}

// goContent is page data that writes its page's content, and its fragments, in Go rather
// than through a template (see jobListData).
type goContent interface {
	writeContent(w *htmlWriter, p *page)
	// writeFragment writes the element with id target, reporting whether there is one.
	writeFragment(w *htmlWriter, p *page, target string) bool
}

// page is what every template sees: the layout's data plus the page's own in Data.
type page struct {
	Title      string
	Nav        string
	SiteTitle  string
	Base       string
	User       *admin.User
	Role       role
	Flash      *flash
	CurrentURL string
	// LiveQueue narrows the page's event stream to one queue.
	LiveQueue string
	Data      any
	// Chrome is the frame shared by every page at this mount path; render sets it.
	Chrome *chrome
}

// Path joins escaped path segments under the dashboard's mount point: Path "queues" name "jobs".
func (p *page) Path(parts ...string) string { return joinPath(p.Base, parts...) }

// EventsURL is the SSE endpoint the page's script connects to.
func (p *page) EventsURL() string {
	u := p.Base + "/events"
	if p.LiveQueue != "" {
		u += "?queue=" + url.QueryEscape(p.LiveQueue)
	}
	return u
}

// QueueTabs links the sections of queue's pages, marking current.
func (p *page) QueueTabs(queue, current string) queueTabs {
	return newQueueTabs(p.Base, queue, current)
}

// Can reports whether the page's user may perform action; templates hide what it refuses.
func (p *page) Can(action string) bool { return p.Role >= requiredRole(action) }

func joinPath(base string, parts ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, s := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if len(parts) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// publicURL is the browser-visible URL of the current request, for return_to fields.
func publicURL(r *http.Request) string {
	u := publicPath(r)
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

func (d *Dashboard) newPage(w http.ResponseWriter, r *http.Request, title, nav string, data any) *page {
	p := &page{
		Title:      title,
		Nav:        nav,
		SiteTitle:  d.cfg.Title,
		Base:       admin.BasePath(r),
		User:       admin.UserFromContext(r.Context()),
		Role:       d.roleOf(r),
		CurrentURL: publicURL(r),
		Data:       data,
	}
	if w != nil {
		p.Flash = d.popFlash(w, r)
	}
	return p
}

// isHTMX reports whether the request is an htmx request that wants a fragment rather than a page.
func isHTMX(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") != "true"
}

// render writes a full page, or only the fragment named by HX-Target when htmx asks for one the
// page defines (templates name fragments "fragment:<element id>"). The frame around the content
// is written in Go (see writeFrameStart), and so is the content of data that is a goContent.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) error {
	t := d.tpl.pages[name]
	gc, _ := p.Data.(goContent)
	if t == nil && gc == nil {
		return &renderError{fmt.Errorf("render: no template %q", name)}
	}
	fragment := ""
	if isHTMX(r) {
		if target := r.Header.Get("HX-Target"); slices.Contains(pageFragments[name], target) {
			fragment = target
		}
	}
	out := getWriter()
	defer putWriter(out)
	switch {
	case fragment != "" && gc != nil:
		if !gc.writeFragment(out, p, fragment) {
			return &renderError{fmt.Errorf("render %s: no fragment %q", name, fragment)}
		}
	case fragment != "":
		if err := t.ExecuteTemplate(&out.Buffer, "fragment:"+fragment, p); err != nil {
			return &renderError{fmt.Errorf("render %s: %w", name, err)}
		}
	default:
		c, err := d.chrome(p.Base)
		if err != nil {
			return &renderError{err}
		}
		p.Chrome = c
		writeFrameStart(out, p)
		if gc != nil {
			gc.writeContent(out, p)
		} else if err := t.ExecuteTemplate(&out.Buffer, "content", p); err != nil {
			return &renderError{fmt.Errorf("render %s: %w", name, err)}
		}
		writeFrameEnd(out)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Fragments and pages differ for one URL; caches must keep them apart.
	h.Add("Vary", "HX-Request, HX-Target")
	w.WriteHeader(status)
	_, err := w.Write(out.Bytes())
	return err
}

// writerPool holds render buffers: a page is rendered whole before its status is sent, so that
// a template error can still become an error page.
var writerPool = sync.Pool{New: func() any { return new(htmlWriter) }}

// maxPooledBuffer keeps one unusually large page from pinning its buffer in the pool.
const maxPooledBuffer = 1 << 20

func getWriter() *htmlWriter {
	w := writerPool.Get().(*htmlWriter)
	w.Reset()
	return w
}

func putWriter(w *htmlWriter) {
	if w.Cap() <= maxPooledBuffer {
		writerPool.Put(w)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode JSON response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// httpError is an error with the status and the user-facing message to show for it.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// renderError is a template failure: a bug, reported as such rather than blamed on the backend.
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }
func (e *renderError) Unwrap() error { return e.err }

var errNotFound = &httpError{http.StatusNotFound, "Page not found"}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// classify maps an error to a status and a message safe to show: backend failures are reported by
// class only, since their text may carry connection strings.
func classify(err error) (int, string) {
	var he *httpError
	var re *renderError
	switch {
	case errors.As(err, &re):
		return http.StatusInternalServerError, "The page could not be rendered"
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, asyncmqtype.ErrJobNotFound):
		return http.StatusNotFound, "Job not found"
	case errors.Is(err, asyncmqtype.ErrQueueNotFound):
		return http.StatusNotFound, "Queue not found"
	case errors.Is(err, asyncmqtype.ErrRepeatableNotFound):
		return http.StatusNotFound, "Repeatable not found"
	case errors.Is(err, asyncmqtype.ErrInvalid):
		return http.StatusBadRequest, "Invalid request: " + lastCause(err)
	case errors.Is(err, asyncmqtype.ErrQueueActive):
		return http.StatusConflict, "The queue has active jobs"
	case errors.Is(err, asyncmqtype.ErrConflict):
		return http.StatusConflict, "Another change won the race; reload and try again"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The backend did not answer in time"
	default:
		return http.StatusServiceUnavailable, "The backend is unavailable"
	}
}

// lastCause returns the text of an invalid-argument error without the wrapped sentinel, which
// the dashboard's own messages already say.
func lastCause(err error) string {
	return strings.TrimSuffix(err.Error(), ": "+asyncmqtype.ErrInvalid.Error())
}

// maxFormBytes bounds a posted form; the largest legitimate one names maxSelected job IDs.
const maxFormBytes = 256 << 10

type errorData struct {
	Status  int
	Heading string
	Message string
}

// page adapts a handler that returns an error: the error becomes a 4xx/503 page (or a flash
// fragment for htmx, or JSON when asked), never a stack trace or a bare 500.
func (d *Dashboard) page(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				d.writeError(w, r, badRequest("The form could not be read: it is malformed or larger than %d KiB.", maxFormBytes>>10))
				return
			}
		}
		err := h(w, r)
		if err == nil || errors.Is(r.Context().Err(), context.Canceled) {
			return
		}
		d.writeError(w, r, err)
	})
}

// api adapts a JSON endpoint: its errors are JSON too, whatever the request accepts.
func (d *Dashboard) api(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil || errors.Is(r.Context().Err(), context.Canceled) {
			return
		}
		status, msg := d.classifyLogged(r, err)
		_ = writeJSON(w, status, map[string]any{"ok": false, "error": msg})
	})
}

func (d *Dashboard) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := d.classifyLogged(r, err)
	if wantsJSON(r) {
		_ = writeJSON(w, status, map[string]any{"ok": false, "error": msg})
		return
	}
	if isHTMX(r) {
		_ = d.renderFlash(w, status, &flash{Level: "error", Text: msg})
		return
	}
	heading := http.StatusText(status)
	if status == http.StatusNotFound {
		heading = "Not found"
	}
	p := d.newPage(nil, r, heading, "", errorData{Status: status, Heading: heading, Message: msg})
	if rerr := d.render(w, r, status, "error", p); rerr != nil {
		d.log.ErrorContext(r.Context(), "dashboard render error page", "err", rerr)
		http.Error(w, msg, status)
	}
}

// classifyLogged is classify, logging the failures that are the server's rather than the request's.
func (d *Dashboard) classifyLogged(r *http.Request, err error) (int, string) {
	status, msg := classify(err)
	if status >= 500 {
		d.log.ErrorContext(r.Context(), "dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	return status, msg
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") || r.FormValue("_response") == "json"
}

// formatInt renders an integer with thousands separators: 1,000,000.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// isoTime is a time as a datetime attribute wants it.
func isoTime(t time.Time) string { return t.Format(time.RFC3339) }

func formatAgo(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	if d < 0 {
		return "in " + formatDuration(-d)
	}
	return formatDuration(d) + " ago"
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m" + strconv.Itoa(int(d.Seconds())%60) + "s"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h" + strconv.Itoa(int(d.Minutes())%60) + "m"
	default:
		return strconv.Itoa(int(d.Hours()/24)) + "d"
	}
}

// truncate cuts s to n bytes, on a rune boundary, marking a cut with "…".
func truncate(n int, s string) string { return clip(s, n, false) }
