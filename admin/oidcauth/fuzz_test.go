package oidcauth

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseCallback feeds the callback's query parser arbitrary queries: it must never panic,
// and whatever it accepts must carry a state, a code or an error, within the limits, without
// control characters, each parameter given once.
func FuzzParseCallback(f *testing.F) {
	for _, seed := range []string{
		"code=abc&state=xyz",
		"state=xyz&error=access_denied&error_description=User+cancelled",
		"code=abc&state=xyz&iss=https%3A%2F%2Fidp.example",
		"code=a&code=b&state=s",
		"state=%zz",
		"state=a;code=b",
		"code=%00&state=s",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseCallback(raw)
		if err != nil {
			return
		}
		if p.State == "" || (p.Code == "" && p.Error == "") {
			t.Fatalf("accepted %q without state, or without code and error: %+v", raw, p)
		}
		if len(p.State) > maxState || len(p.Code) > maxCode || len(p.ErrorDescription) > maxDescription {
			t.Fatalf("accepted oversized values from %q", raw)
		}
		for _, v := range []string{p.State, p.Code, p.Error, p.ErrorDescription, p.Issuer} {
			if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("accepted a control character from %q", raw)
			}
		}
		q, _ := url.ParseQuery(raw)
		if len(q["state"]) != 1 {
			t.Fatalf("accepted %q with %d states", raw, len(q["state"]))
		}
	})
}
