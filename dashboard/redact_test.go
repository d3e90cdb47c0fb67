package dashboard

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
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
