package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
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
)

// redactor hides secrets before anything reaches a page or an event stream: values of sensitive
// keys in JSON, and key=value, key: value and "key": "value" shapes inside free text.
type redactor struct {
	keys []string // normalised: lower case, without "_" and "-"
	text *regexp.Regexp
	url  *regexp.Regexp
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
	// credential, or a bare word.
	pattern := `(?i)([\w.-]*(?:` + strings.Join(alts, "|") + `)[\w.-]*(?:\\?["'])?\s*[:=]\s*)` +
		`(\\"(?:[^\\]|\\[^"])*?\\"|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|(?:bearer|basic|digest|token)\s+[^\s,;&"'<>]+|[^\s,;&"'<>)\]}]+)`
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("compile redaction pattern: %w", err)
	}
	rd.text = re
	rd.url = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)`)
	return rd, nil
}

func normaliseKey(k string) string {
	k = strings.ToLower(k)
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(k)
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

// Text redacts inline secrets in free text (error messages, stacks, event details) and bounds
// its length.
func (rd *redactor) Text(s string) string {
	if len(s) > maxText {
		s = truncate(maxText, s) + "[truncated]"
	}
	s = rd.url.ReplaceAllString(s, "${1}"+redactedValue+"${3}")
	return rd.text.ReplaceAllString(s, "${1}"+redactedValue)
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
			return "[nested data omitted]"
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
			return "[nested data omitted]"
		}
		for i, x := range t {
			t[i] = rd.value(x, depth+1)
		}
		return t
	case string:
		if len(t) > maxJSONString {
			t = truncate(maxJSONString, t) + "...[truncated]"
		}
		return rd.Text(t)
	default:
		return v
	}
}
