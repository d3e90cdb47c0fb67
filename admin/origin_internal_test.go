package admin

import "testing"

func TestOriginHeaderNormalisation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"https://ops.example", "https://ops.example", true},
		{"HTTPS://OPS.example:443", "https://ops.example", true},
		{"http://ops.example:80", "http://ops.example", true},
		{"http://ops.example:8080", "http://ops.example:8080", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"https://[FD00::1]", "https://[fd00::1]", true},
		{"https://[fd00::1]:443", "https://[fd00::1]", true},
		{"null", "", false},
		{"ops.example", "", false},
		{"ftp://ops.example", "", false},
		{"https://", "", false},
		{"https://ops.example/", "", false},
		{"https://user@ops.example", "", false},
		{"https://ops.example?x", "", false},
		{"https://ops\\example", "", false},
	}
	for _, tt := range tests {
		got, ok := originHeader(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("originHeader(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := parseOrigin("https://Ops.Example:443/"); !ok || got != "https://ops.example" {
		t.Errorf("parseOrigin = %q, %v", got, ok)
	}
	for _, p := range []string{"8443", "1"} {
		if !isPort(p) {
			t.Errorf("isPort(%q) = false", p)
		}
	}
	for _, p := range []string{"", "84x3", "123456", "-1"} {
		if isPort(p) {
			t.Errorf("isPort(%q) = true", p)
		}
	}
}
