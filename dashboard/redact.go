package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/internal/redact"
)

// defaultRedactKeys are hidden in every dashboard: the keys AsyncMQ redacts, plus passwd.
var defaultRedactKeys = []string{
	"password", "passwd", "secret", "token", "authorization", "api_key", "apikey", "private_key", "credential",
}

const (
	redactedValue = "[redacted]"
	// maxRedactDepth bounds how deep a payload is walked; deeper data is summarised, so a
	// pathological payload cannot make a page expensive to render.
	maxRedactDepth = 8
	// maxJSONString bounds each string value shown from a payload.
	maxJSONString = 4000
	// maxText bounds error messages and stacks shown.
	maxText = 64 << 10
	// previewSlack is how far past a preview's length its text is read and redacted, so that
	// a secret whose key lies inside the preview is recognised with most of its value.
	previewSlack = 1024
)

// redactor hides secrets before anything reaches a page or an event stream: values of sensitive
// keys in JSON, and key=value, key: value and "key": "value" shapes inside free text.
//
// Text is only ever cut after it is redacted, or with the cut variants of the patterns, which
// also hide a value that the cut leaves without its closing quote or "@": cutting first and
// redacting with the full patterns would show the start of a quoted secret that straddles the
// cut, since a quoted value only matches once its closing quote is seen.
type redactor struct {
	keys []string // normalised: lower case, without "_" and "-"
	text *regexp.Regexp
	url  *regexp.Regexp
	// textCut and urlCut are text and url for a prefix of a longer text: a value running into
	// the end of the prefix counts as a value.
	textCut *regexp.Regexp
	urlCut  *regexp.Regexp
}

func newRedactor(extra []string) (*redactor, error) {
	all := append(append([]string(nil), defaultRedactKeys...), extra...)
	rd := &redactor{}
	var alts []string
	seen := make(map[string]bool)
	for _, k := range all {
		n := normaliseKey(k)
		if n == "" {
			return nil, fmt.Errorf("redact key %q has no letters or digits", k)
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		rd.keys = append(rd.keys, n)
		// "api_key" also matches "api-key" and "apiKey" in text, as it does in JSON keys.
		parts := strings.FieldsFunc(strings.ToLower(k), func(r rune) bool { return r == '_' || r == '-' })
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		alts = append(alts, strings.Join(parts, `[_-]?`))
	}
	// key, an optional closing quote (possibly escaped, for JSON inside a string), the separator,
	// then one value: an escaped-quoted, quoted or single-quoted string, an auth scheme with its
	// credential, or a bare word, with a quoted string right after it ("pass= token="a b"").
	// %[1]s is where a quoted value may also end: nowhere else for a whole text, the end of the
	// text for a cut one.
	const value = `(\\"(?:[^\\]|\\[^"])*?(?:\\"%[1]s)|"(?:[^"\\]|\\.)*(?:"%[1]s)|'(?:[^'\\]|\\.)*(?:'%[1]s)|` +
		`(?:bearer|basic|digest|token)\s+[^\s,;&"'<>]+|` +
		`[^\s,;&"'<>)\]}]+(?:"(?:[^"\\]|\\.)*(?:"%[1]s)|'(?:[^'\\]|\\.)*(?:'%[1]s))?)`
	key := `(?i)([\w.-]*(?:` + strings.Join(alts, "|") + `)[\w.-]*(?:\\?["'])?\s*[:=]\s*)`
	var err error
	if rd.text, err = regexp.Compile(key + fmt.Sprintf(value, "")); err != nil {
		return nil, fmt.Errorf("compile redaction pattern: %w", err)
	}
	if rd.textCut, err = regexp.Compile(key + fmt.Sprintf(value, `|\\?$`)); err != nil {
		return nil, fmt.Errorf("compile redaction pattern: %w", err)
	}
	rd.url = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)`)
	rd.urlCut = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@|$)`)
	return rd, nil
}

// normaliseKey lower-cases k and drops "_", "-" and spaces, so that "API-Key" matches "api_key".
func normaliseKey(k string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, k)
}

// sensitive reports whether a JSON key names a secret.
func (rd *redactor) sensitive(key string) bool {
	n := normaliseKey(key)
	for _, k := range rd.keys {
		if strings.Contains(n, k) {
			return true
		}
	}
	return false
}

// redact hides the inline secrets of s. cut says s is a prefix of a longer text.
func (rd *redactor) redact(s string, cut bool) string {
	// Both patterns need a ':' or '=' (no other character case-folds to either), and most
	// payload strings and many messages have neither.
	if !strings.ContainsAny(s, ":=") {
		return s
	}
	url, text := rd.url, rd.text
	if cut {
		url, text = rd.urlCut, rd.textCut
	}
	s = url.ReplaceAllString(s, "${1}"+redactedValue+"${3}")
	return text.ReplaceAllString(s, "${1}"+redactedValue)
}

// prefix returns s redacted, reading at most its first limit bytes; cut reports whether s was
// longer. Only what is returned is redacted, so a long text costs what its prefix costs.
func (rd *redactor) prefix(s string, limit int) (out string, cut bool) {
	if len(s) <= limit {
		return rd.redact(s, false), false
	}
	return rd.redact(s[:runeCut(s, limit)], true), true
}

// Text redacts inline secrets in free text (error messages, stacks, event details) and bounds
// its length.
func (rd *redactor) Text(s string) string {
	out, cut := rd.prefix(s, maxText)
	if cut {
		out += "[truncated]"
	}
	return out
}

// TextPreview returns Text(s) cut to n bytes, with "…" when anything is left out, reading only
// a little more of s than it shows.
func (rd *redactor) TextPreview(s string, n int) string {
	out, cut := rd.prefix(s, n+previewSlack)
	return clip(out, n, cut)
}

// clip cuts s to n bytes and marks the cut with "…", which it also adds when more was left
// out before s (more).
func clip(s string, n int, more bool) string {
	if len(s) > n {
		return s[:runeCut(s, n)] + "…"
	}
	if more {
		return s + "…"
	}
	return s
}

// runeCut returns the largest index at most n that does not split a UTF-8 sequence of s.
func runeCut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// JSON returns raw as indented JSON with sensitive values replaced, or the redacted text when
// raw is not valid JSON. Empty input gives "".
func (rd *redactor) JSON(raw []byte) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return rd.Text(string(raw))
	}
	v = rd.value(v, 0)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The page escapes the output; HTML-escaping here too would show \u003c to the reader.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return rd.Text(string(raw))
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func (rd *redactor) value(v any, depth int) any {
	switch t := v.(type) {
	case map[string]any:
		if depth >= maxRedactDepth {
			return nestedOmitted
		}
		for k, x := range t {
			if rd.sensitive(k) {
				t[k] = redactedValue
				continue
			}
			t[k] = rd.value(x, depth+1)
		}
		return t
	case []any:
		if depth >= maxRedactDepth {
			return nestedOmitted
		}
		for i, x := range t {
			t[i] = rd.value(x, depth+1)
		}
		return t
	case string:
		out, cut := rd.prefix(t, maxJSONString)
		if cut {
			out += "...[truncated]"
		}
		return out
	default:
		return v
	}
}

const nestedOmitted = "[nested data omitted]"

// Preview returns a one-line preview of a JSON payload, at most n bytes plus "…", redacted as
// JSON redacts it: {"to": "ada@example.com", "password": "[redacted]"} shows as
// { "to": "ada@example.com", "password": "[redacted]" }, keys in the payload's order. It reads
// the payload only as far as the preview needs, so a megabyte payload costs what its first few
// hundred bytes cost. A payload that is not JSON is previewed as text, with runs of white
// space shown as one space. Empty input gives "".
func (rd *redactor) Preview(raw []byte, n int) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	if len(raw) <= previewValidMax && json.Valid(raw) {
		return rd.previewValid(raw, n)
	}
	return rd.previewStream(raw, n)
}

// previewValidMax bounds the payloads Preview validates whole and then walks byte by byte
// (previewValid), which costs a small fraction of a decoder's token by token walk: a listing
// shows a preview per row. Longer payloads are decoded only as far as their preview needs.
const previewValidMax = 4 << 10

// previewStream is Preview by a decoder that reads raw only as far as the preview needs.
func (rd *redactor) previewStream(raw []byte, n int) string {
	p := previewer{rd: rd, n: n, dec: json.NewDecoder(bytes.NewReader(raw))}
	p.dec.UseNumber()
	p.enc = json.NewEncoder(&p.scratch)
	p.enc.SetEscapeHTML(false)
	err := p.value(0)
	switch {
	case errors.Is(err, errPreviewFull):
		return clip(p.out.String(), n, true)
	case err == nil && !p.dec.More():
		return clip(p.out.String(), n, false)
	}
	// Not JSON, or more than one document: previewed as text, as JSON shows it in full.
	out, cut := rd.prefix(string(raw), n+previewSlack)
	return clip(strings.Join(strings.Fields(out), " "), n, cut)
}

// errPreviewFull stops a preview once it has more than it shows.
var errPreviewFull = errors.New("preview full")

// previewer writes a JSON value as a one-line preview, token by token, until it is full.
type previewer struct {
	rd      *redactor
	n       int
	dec     *json.Decoder
	enc     *json.Encoder
	scratch bytes.Buffer
	out     strings.Builder
}

func (p *previewer) value(depth int) error {
	if depth >= maxRedactDepth {
		// Read the value whole: a container this deep is summarised without being walked.
		var raw json.RawMessage
		if err := p.dec.Decode(&raw); err != nil {
			return err
		}
		if raw = bytes.TrimSpace(raw); len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			return p.str(nestedOmitted)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		return p.scalar(v)
	}
	tok, err := p.dec.Token()
	if err != nil {
		return err
	}
	if open, ok := tok.(json.Delim); ok {
		return p.container(open, depth)
	}
	return p.scalar(tok)
}

// scalar writes a string (redacted), number, boolean or null.
func (p *previewer) scalar(v any) error {
	switch t := v.(type) {
	case string:
		s, cut := p.rd.prefix(t, min(maxJSONString, p.n-p.out.Len()+previewSlack))
		if err := p.str(s); err != nil {
			return err
		}
		if cut {
			// The string goes on past what was read: nothing after it can be shown.
			return errPreviewFull
		}
		return nil
	case json.Number:
		return p.write(string(t))
	case bool:
		if t {
			return p.write("true")
		}
		return p.write("false")
	default:
		return p.write("null")
	}
}

func (p *previewer) container(open json.Delim, depth int) error {
	obj := open == '{'
	closing := "]"
	if obj {
		closing = "}"
	}
	if err := p.write(open.String()); err != nil {
		return err
	}
	first := true
	for p.dec.More() {
		sep := ", "
		if first {
			sep, first = " ", false
		}
		if err := p.write(sep); err != nil {
			return err
		}
		if obj {
			tok, err := p.dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if err := p.str(key); err != nil {
				return err
			}
			if err := p.write(": "); err != nil {
				return err
			}
			if p.rd.sensitive(key) {
				var skip json.RawMessage
				if err := p.dec.Decode(&skip); err != nil {
					return err
				}
				if err := p.str(redactedValue); err != nil {
					return err
				}
				continue
			}
		}
		if err := p.value(depth + 1); err != nil {
			return err
		}
	}
	if _, err := p.dec.Token(); err != nil {
		return err
	}
	if !first {
		closing = " " + closing
	}
	return p.write(closing)
}

// str writes s as a JSON string.
func (p *previewer) str(s string) error {
	p.scratch.Reset()
	if err := p.enc.Encode(s); err != nil {
		return err
	}
	return p.write(strings.TrimSuffix(p.scratch.String(), "\n"))
}

func (p *previewer) write(s string) error {
	p.out.WriteString(s)
	if p.out.Len() > p.n {
		return errPreviewFull
	}
	return nil
}

// previewValid is Preview of raw that json.Valid accepted: the same preview as previewStream,
// written by walking the bytes, with no decoder, no token values and few allocations.
func (rd *redactor) previewValid(raw []byte, n int) string {
	p := validPreviewer{rd: rd, n: n, in: raw}
	p.out.Grow(n + 16)
	if err := p.value(0); errors.Is(err, errPreviewFull) {
		return clip(p.out.String(), n, true)
	}
	// Nothing else fails on valid JSON.
	return clip(p.out.String(), n, false)
}

// validPreviewer writes the one-line preview of valid JSON as previewer does, reading the
// bytes in place: since the input is valid, every read can trust the next byte.
type validPreviewer struct {
	rd  *redactor
	n   int
	in  []byte
	pos int
	out strings.Builder
	// scratch and enc encode the strings that need escapes, made on first use.
	scratch bytes.Buffer
	enc     *json.Encoder
}

func (p *validPreviewer) ws() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *validPreviewer) value(depth int) error {
	p.ws()
	c := p.in[p.pos]
	if c == '{' || c == '[' {
		if depth >= maxRedactDepth {
			// A container this deep is summarised without being walked.
			p.skip()
			return p.str(nestedOmitted)
		}
		return p.container(c, depth)
	}
	return p.scalar()
}

// scalar writes a string (redacted), number, boolean or null.
func (p *validPreviewer) scalar() error {
	switch p.in[p.pos] {
	case '"':
		s, cut := p.rd.prefix(p.string(), min(maxJSONString, p.n-p.out.Len()+previewSlack))
		if err := p.str(s); err != nil {
			return err
		}
		if cut {
			// The string goes on past what was read: nothing after it can be shown.
			return errPreviewFull
		}
		return nil
	case 't':
		p.pos += len("true")
		return p.write("true")
	case 'f':
		p.pos += len("false")
		return p.write("false")
	case 'n':
		p.pos += len("null")
		return p.write("null")
	}
	// A number, shown as written.
	start := p.pos
	for p.pos < len(p.in) && strings.IndexByte("+-.0123456789eE", p.in[p.pos]) >= 0 {
		p.pos++
	}
	return p.write(string(p.in[start:p.pos]))
}

func (p *validPreviewer) container(open byte, depth int) error {
	p.pos++
	obj := open == '{'
	closing := "]"
	if obj {
		closing = "}"
	}
	if err := p.write(string(open)); err != nil {
		return err
	}
	first := true
	for {
		p.ws()
		switch p.in[p.pos] {
		case '}', ']':
			p.pos++
			if !first {
				closing = " " + closing
			}
			return p.write(closing)
		case ',':
			p.pos++
			p.ws()
		}
		sep := ", "
		if first {
			sep, first = " ", false
		}
		if err := p.write(sep); err != nil {
			return err
		}
		if obj {
			key := p.string()
			if err := p.str(key); err != nil {
				return err
			}
			if err := p.write(": "); err != nil {
				return err
			}
			p.ws()
			p.pos++ // the colon
			p.ws()
			if p.rd.sensitive(key) {
				p.skip()
				if err := p.str(redactedValue); err != nil {
					return err
				}
				continue
			}
		}
		if err := p.value(depth + 1); err != nil {
			return err
		}
	}
}

// string reads the string at pos, decoded; most need no decoding and are the bytes in place.
func (p *validPreviewer) string() string {
	start := p.pos
	plain := true
	i := start + 1
	for ; p.in[i] != '"'; i++ {
		switch c := p.in[i]; {
		case c == '\\':
			plain = false
			i++
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	p.pos = i + 1
	if plain {
		return string(p.in[start+1 : i])
	}
	// Escapes and non-ASCII (invalid UTF-8 becomes U+FFFD) are decoded as the decoder does.
	var s string
	_ = json.Unmarshal(p.in[start:p.pos], &s)
	return s
}

// skip moves past the value at pos.
func (p *validPreviewer) skip() {
	p.ws()
	depth := 0
	for {
		switch p.in[p.pos] {
		case '"':
			p.skipString()
			if depth == 0 {
				return
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.pos++
				return
			}
		default:
			if depth == 0 {
				// A number or literal: it ends at a delimiter or the end.
				for p.pos < len(p.in) && strings.IndexByte(" \t\n\r,]}", p.in[p.pos]) < 0 {
					p.pos++
				}
				return
			}
		}
		p.pos++
	}
}

func (p *validPreviewer) skipString() {
	i := p.pos + 1
	for ; p.in[i] != '"'; i++ {
		if p.in[i] == '\\' {
			i++
		}
	}
	p.pos = i + 1
}

// str writes s as a JSON string, as previewer.str does (no HTML escaping).
func (p *validPreviewer) str(s string) error {
	if plainJSON(s) {
		p.out.WriteByte('"')
		p.out.WriteString(s)
		return p.write(`"`)
	}
	if p.enc == nil {
		p.enc = json.NewEncoder(&p.scratch)
		p.enc.SetEscapeHTML(false)
	}
	p.scratch.Reset()
	if err := p.enc.Encode(s); err != nil {
		return err
	}
	return p.write(strings.TrimSuffix(p.scratch.String(), "\n"))
}

// plainJSON reports whether s is written in JSON as it is between quotes: printable ASCII
// without quotes or backslashes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (p *validPreviewer) write(s string) error {
	p.out.WriteString(s)
	if p.out.Len() > p.n {
		return errPreviewFull
	}
	return nil
}

// headerView is one job header as the job page shows it.
type headerView struct {
	Name, Value string
}

// Headers returns a job's headers sorted by name, each value hidden when its name looks like a
// credential (redact.IsSecretHeader, or one of the dashboard's redact keys) and redacted as text
// otherwise.
func (rd *redactor) Headers(h map[string]string) []headerView {
	out := make([]headerView, 0, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		v := rd.Text(h[k])
		if redact.IsSecretHeader(k) || rd.sensitive(k) {
			v = redactedValue
		}
		out = append(out, headerView{Name: k, Value: v})
	}
	return out
}

// HeaderMap is Headers as the JSON API shows them: an object, nil when the job has no headers.
func (rd *redactor) HeaderMap(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for _, hv := range rd.Headers(h) {
		out[hv.Name] = hv.Value
	}
	return out
}
