package dashboard

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestRedactText(t *testing.T) {
	t.Parallel()
	rd, err := newRedactor([]string{"session_id"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in     string
		want   string   // exact output, when set
		gone   []string // must not appear
		remain []string // must still appear
	}{
		{in: `password="hunter2"`, want: `password=[redacted]`},
		{in: `token=abc123 next`, want: `token=[redacted] next`},
		{in: `"api_key": "sk-live-1"`, want: `"api_key": [redacted]`},
		{in: `authorization: Bearer eyJhbGciOi.x.y`, want: `authorization: [redacted]`},
		{in: `Authorization: Basic dXNlcjpwYXNz, retrying`, want: `Authorization: [redacted], retrying`},
		{in: `secret='it''s'`, gone: []string{"it"}},
		{in: `password="with \"escaped\" quotes" end`, want: `password=[redacted] end`},
		{in: `payload {\"password\": \"hunter2\", \"user\": \"ada\"}`, gone: []string{"hunter2"}, remain: []string{`\"user\": \"ada\"`}},
		{in: `GET /cb?token=abc&state=xyz`, want: `GET /cb?token=[redacted]&state=xyz`},
		{in: `dial postgres://app:swordfish@db:5432/jobs failed`, want: `dial postgres://app:[redacted]@db:5432/jobs failed`},
		{in: `API-KEY=k1 apiKey: k2 privateKey=k3 private_key=k4 PASSWD=k5 db_password=k6 X-Auth-Token: k7`, gone: []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7"}},
		{in: `client_credential=cc1 credentials: cc2`, gone: []string{"cc1", "cc2"}},
		{in: `session_id=s1 session-id: s2`, gone: []string{"s1", "s2"}},
		{in: "line one\n  File \"app.py\", line 418, in process_job\n    token = 'tok-99'", gone: []string{"tok-99"}, remain: []string{"line 418", "process_job"}},
		{in: `the token expired; re-authenticate`, want: `the token expired; re-authenticate`},
		{in: `no secrets here: just text`, want: `no secrets here: just text`},
		{in: `<script>alert(1)</script> password=x`, want: `<script>alert(1)</script> password=[redacted]`},
		// A key whose bare value is another key takes that key's quoted value along.
		{in: `passwd= password="two words" end`, want: `passwd= [redacted] end`},
	}
	for _, tt := range tests {
		got := rd.Text(tt.in)
		if tt.want != "" && got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, g := range tt.gone {
			if strings.Contains(got, g) {
				t.Errorf("Text(%q) = %q still shows %q", tt.in, got, g)
			}
		}
		for _, r := range tt.remain {
			if !strings.Contains(got, r) {
				t.Errorf("Text(%q) = %q lost %q", tt.in, got, r)
			}
		}
	}
}

func TestRedactJSON(t *testing.T) {
	t.Parallel()
	rd, _ := newRedactor([]string{"ssn"})
	deep := strings.Repeat(`{"a":`, 12) + `"bottom"` + strings.Repeat(`}`, 12)
	tests := []struct {
		name   string
		in     string
		gone   []string
		remain []string
		want   string
	}{
		{name: "keys at every level", in: `{"user":"ada","password":"p1","nested":{"Api-Key":"p2","list":[{"token":"p3"},{"ok":"fine"}]},"ssn":"p4","Authorization":{"scheme":"Bearer","value":"p5"}}`,
			gone: []string{"p1", "p2", "p3", "p4", "p5"}, remain: []string{`"user": "ada"`, `"ok": "fine"`, `"password": "[redacted]"`}},
		{name: "inline secrets inside string values", in: `{"log":"retry with token=p6 now","url":"https://u:p7@host/x"}`, gone: []string{"p6", "p7"}},
		{name: "numbers keep their form", in: `{"n":12345678901234567890,"f":1.50}`, remain: []string{"12345678901234567890", "1.50"}},
		{name: "scalar", in: `"just a string"`, want: `"just a string"`},
		{name: "html is left for the template to escape", in: `{"h":"<b>x</b>"}`, remain: []string{`"<b>x</b>"`}},
		{name: "deep nesting is summarised", in: deep, gone: []string{"bottom"}, remain: []string{"[nested data omitted]"}},
		{name: "long strings are truncated", in: `{"s":"` + strings.Repeat("x", maxJSONString+100) + `"}`, remain: []string{"...[truncated]"}},
		{name: "invalid JSON falls back to text", in: `{"password": "p8", broken`, gone: []string{"p8"}, remain: []string{"broken"}},
		{name: "two documents are not one", in: `{"a":1} {"password":"p9"}`, gone: []string{"p9"}},
		{name: "empty", in: "  ", want: ""},
	}
	for _, tt := range tests {
		got := rd.JSON([]byte(tt.in))
		if tt.want != "" || tt.in == "  " {
			if got != tt.want {
				t.Errorf("%s: JSON = %q, want %q", tt.name, got, tt.want)
			}
		}
		for _, g := range tt.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: JSON = %q still shows %q", tt.name, got, g)
			}
		}
		for _, r := range tt.remain {
			if !strings.Contains(got, r) {
				t.Errorf("%s: JSON = %q lost %q", tt.name, got, r)
			}
		}
	}
}

var secretWord = regexp.MustCompile(`^[A-Za-z0-9]{4,20}$`)

// FuzzRedactText checks Text never panics, never grows without bound, and always hides the value
// of a key=value secret whatever surrounds it.
func FuzzRedactText(f *testing.F) {
	for _, s := range []string{"", "password=x", `"token": "y"`, `a\"b`, "authorization: Bearer", "://:@", strings.Repeat("=", 100)} {
		f.Add(s, "s3cr3tValue")
	}
	rd, _ := newRedactor(nil)
	f.Fuzz(func(t *testing.T, prefix, secret string) {
		out := rd.Text(prefix)
		if len(out) > maxText+len(redactedValue)*len(prefix)+64 {
			t.Fatalf("output of %d bytes for %d bytes of input", len(out), len(prefix))
		}
		if !secretWord.MatchString(secret) || strings.Contains(prefix, secret) || strings.Contains(redactedValue, secret) {
			return
		}
		in := prefix + " password=" + secret
		if got := rd.Text(in); strings.Contains(got, secret) {
			t.Fatalf("Text(%q) = %q shows the secret", in, got)
		}
	})
}

// FuzzRedactJSON checks JSON never panics and, for a valid object with a password key, returns
// valid JSON without the password.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":null}]}`, `"x"`, `{"password":1}`, `nope`, `{"a":"token=1"}`} {
		f.Add(s)
	}
	rd, _ := newRedactor(nil)
	f.Fuzz(func(t *testing.T, in string) {
		_ = rd.JSON([]byte(in))
		var v map[string]any
		if json.Unmarshal([]byte(in), &v) != nil || v == nil {
			return
		}
		v["password"] = "fuzz-secret-value"
		b, _ := json.Marshal(v)
		out := rd.JSON(b)
		if !json.Valid([]byte(out)) {
			t.Fatalf("JSON(%s) = %q is not JSON", b, out)
		}
		if strings.Contains(out, "fuzz-secret-value") {
			t.Fatalf("JSON(%s) = %q shows the password", b, out)
		}
	})
}

func TestRedactPreview(t *testing.T) {
	t.Parallel()
	rd, _ := newRedactor(nil)
	long := `{"a":"` + strings.Repeat("x", 300) + `","password":"p11"}`
	tests := []struct {
		name string
		in   string
		n    int
		want string
		gone []string
	}{
		{name: "object in document order", in: `{"order":1,"customer":"customer-1"}`, n: 160, want: `{ "order": 1, "customer": "customer-1" }`},
		{name: "empty object", in: ` {} `, n: 160, want: `{}`},
		{name: "array", in: `[1,2,{"a":null,"b":true}]`, n: 160, want: `[ 1, 2, { "a": null, "b": true } ]`},
		{name: "sensitive key hides its whole value", in: `{"credentials":{"user":"a","pass":"p1"},"x":1}`, n: 160, want: `{ "credentials": "[redacted]", "x": 1 }`},
		{name: "escaped key", in: `{"pass\u0077ord":"p2"}`, n: 160, want: `{ "password": "[redacted]" }`},
		{name: "inline secret in a string", in: `{"log":"retry token=p3 now"}`, n: 160, want: `{ "log": "retry token=[redacted] now" }`},
		{name: "html is left for the page to escape", in: `{"h":"<b>&"}`, n: 160, want: `{ "h": "<b>&" }`},
		{name: "numbers keep their form", in: `[12345678901234567890,1.50]`, n: 160, want: `[ 12345678901234567890, 1.50 ]`},
		{name: "deep nesting is summarised", in: strings.Repeat(`[`, 10) + `"bottom"` + strings.Repeat(`]`, 10), n: 160,
			want: `[ [ [ [ [ [ [ [ "[nested data omitted]" ] ] ] ] ] ] ] ]`},
		{name: "scalars at the depth limit show", in: strings.Repeat(`[`, 8) + `"leaf"` + strings.Repeat(`]`, 8), n: 160,
			want: `[ [ [ [ [ [ [ [ "leaf" ] ] ] ] ] ] ] ]`},
		{name: "cut at n", in: long, n: 20, want: `{ "a": "xxxxxxxxxxxx…`, gone: []string{"p11"}},
		{name: "cut inside a multi-byte character", in: `"ééééé"`, n: 4, want: `"é…`},
		{name: "not JSON is text", in: "{\"password\": \"p4\",\n\n  broken", n: 160, want: `{"password": [redacted], broken`},
		{name: "two documents are text", in: `{"a":1} {"password":"p5"}`, n: 160, gone: []string{"p5"}},
		{name: "empty", in: " \n", n: 160, want: ""},
	}
	for _, tt := range tests {
		got := rd.Preview([]byte(tt.in), tt.n)
		if tt.want != "" || strings.TrimSpace(tt.in) == "" {
			if got != tt.want {
				t.Errorf("%s: Preview = %q, want %q", tt.name, got, tt.want)
			}
		}
		if len(got) > tt.n+len("…") {
			t.Errorf("%s: Preview is %d bytes, over %d", tt.name, len(got), tt.n)
		}
		for _, g := range tt.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: Preview = %q shows %q", tt.name, got, g)
			}
		}
	}
}

// TestRedactionNeverLeaksThroughACut checks every place that shortens text before showing it:
// a secret whose value runs past the cut must not show its first part. Cutting first and then
// redacting with the full patterns would show all of these, since a quoted value only matches
// once its closing quote is seen and a URL password once its "@" is.
func TestRedactionNeverLeaksThroughACut(t *testing.T) {
	t.Parallel()
	rd, _ := newRedactor(nil)
	const secret = "s3cretvalue"
	quoted := `password="` + strings.Repeat(secret+" ", 400) + `"`
	single := `secret='` + strings.Repeat(secret+" ", 400) + `'`
	escaped := `{\"token\": \"` + strings.Repeat(secret+" ", 400) + `\"}`
	dsn := "postgres://app:" + strings.Repeat(secret, 200) + "@db/jobs"
	for name, got := range map[string]string{
		"preview of a quoted value":        rd.TextPreview("error: "+quoted, 200),
		"preview of a single-quoted value": rd.TextPreview("error: "+single, 200),
		"preview of an escaped value":      rd.TextPreview("payload "+escaped, 200),
		"preview of a URL password":        rd.TextPreview("dial "+dsn, 200),
		"text over maxText":                rd.Text(strings.Repeat("x", maxText-30) + " " + quoted),
		"JSON string over maxJSONString":   rd.JSON([]byte(`{"log":` + jsonString(strings.Repeat("y", maxJSONString-30)+" "+quoted) + `}`)),
		"payload preview of a long string": rd.Preview([]byte(`{"log":`+jsonString(quoted)+`}`), 160),
		"payload preview past the slack":   rd.Preview([]byte(`{"log":`+jsonString(strings.Repeat("z", 100)+" "+quoted)+`}`), 160),
		"event detail":                     rd.event(asyncmqtype.Event{Detail: "x " + quoted}).Detail,
	} {
		if strings.Contains(got, secret[:4]) {
			t.Errorf("%s shows the secret: %q", name, truncate(300, got))
		}
		if !strings.Contains(got, redactedValue) {
			t.Errorf("%s lost the redaction marker: %q", name, truncate(300, got))
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzRedactPreview checks that no cut shows a secret Text hides: for any text around a
// password, and any preview length, the preview hides the password as the full text does.
func FuzzRedactPreview(f *testing.F) {
	for _, s := range []string{"", "x", `"`, `\"`, "password=", "a'b", "://u:", strings.Repeat("ab ", 500)} {
		f.Add(s, "s3cr3tValue", 30, true)
		f.Add(s, "s3cr3tValue", 1500, false)
	}
	rd, _ := newRedactor(nil)
	f.Fuzz(func(t *testing.T, prefix, secret string, n int, quote bool) {
		if n < 0 || n > 5000 || !secretWord.MatchString(secret) || strings.Contains(prefix, secret) {
			return
		}
		value := secret
		if quote {
			value = `"` + secret + " and more " + strings.Repeat(secret, 100) + `"`
		}
		in := prefix + " password=" + value
		preview := rd.TextPreview(in, n)
		if strings.Contains(preview, secret) && !strings.Contains(rd.Text(in), secret) {
			t.Fatalf("TextPreview(%q, %d) = %q shows the secret Text hides", in, n, preview)
		}
		if len(preview) > n+len("…") {
			t.Fatalf("TextPreview(%q, %d) is %d bytes", in, n, len(preview))
		}
		payload, _ := json.Marshal(map[string]string{"note": in, "password": secret})
		if got := rd.Preview(payload, n); strings.Contains(got, secret) && !strings.Contains(rd.JSON(payload), secret) {
			t.Fatalf("Preview(%s, %d) = %q shows the secret JSON hides", payload, n, got)
		}
	})
}

// previewCorpus is valid JSON of every shape a preview walks: nesting past the depth limit,
// sensitive keys over containers, escapes, non-ASCII and invalid UTF-8, numbers and literals,
// white space everywhere, long strings and inline secrets.
var previewCorpus = []string{
	`{"order":1,"customer":"customer-1"}`, ` {} `, `[]`, ` [ ] `, `[1,2,{"a":null,"b":true}]`, `false`, `-1.5e+3`, `"x"`,
	`{"credentials":{"user":"a","pass":"p1"},"x":1}`, `{"pass\u0077ord":"p2"}`, `{"log":"retry token=p3 now"}`,
	`{"h":"<b>&"}`, `[12345678901234567890,1.50]`, `{"a\"b":"c\\d\n\u2028é"}`, "{\"bad\":\"\xff\xfe\"}",
	strings.Repeat(`[`, 10) + `"bottom"` + strings.Repeat(`]`, 10),
	strings.Repeat(`{"k":`, 9) + `{"deep":[1,{"x":"y"}]}` + strings.Repeat(`}`, 9),
	strings.Repeat(`[`, 8) + `"leaf"` + strings.Repeat(`]`, 8),
	" {\n \"a\" : [ 1 , \"two\" , { } ] ,\t\"token\" : { \"n\" : [ \"}\" , \"]\" ] } , \"z\" : 0 }",
	`{"secret":[1,[2,"]"],{"a":"}"}],"after":true,"api_key":-0.5,"next":null}`,
	`{"a":"` + strings.Repeat("x", 300) + `","password":"p11"}`, `"ééééé"`,
	`{"log":` + jsonString(`password="`+strings.Repeat("s3cretvalue ", 40)+`"`) + `}`,
}

// TestPreviewValidMatchesStream checks that the byte walk of small valid payloads previews
// every payload exactly as the decoder does, at every length.
func TestPreviewValidMatchesStream(t *testing.T) {
	t.Parallel()
	rd, _ := newRedactor([]string{"pass"})
	for _, in := range previewCorpus {
		if !json.Valid([]byte(in)) {
			t.Fatalf("corpus entry %q is not valid JSON", in)
		}
		for _, n := range []int{0, 1, 3, 4, 10, 20, 40, 80, 160, 1000} {
			if got, want := rd.previewValid([]byte(in), n), rd.previewStream([]byte(in), n); got != want {
				t.Errorf("previewValid(%q, %d) = %q, want %q as previewStream gives", in, n, got, want)
			}
		}
	}
}

// FuzzPreviewValid checks the byte walk against the decoder on any valid JSON.
func FuzzPreviewValid(f *testing.F) {
	for _, in := range previewCorpus {
		f.Add(in, 160)
		f.Add(in, 7)
	}
	rd, _ := newRedactor(nil)
	f.Fuzz(func(t *testing.T, in string, n int) {
		if n < 0 || n > 5000 || !json.Valid([]byte(in)) {
			return
		}
		if got, want := rd.previewValid([]byte(in), n), rd.previewStream([]byte(in), n); got != want {
			t.Fatalf("previewValid(%q, %d) = %q, want %q as previewStream gives", in, n, got, want)
		}
	})
}
