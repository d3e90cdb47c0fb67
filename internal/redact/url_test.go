package redact

import "testing"

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{in: "postgres://u:hunter2@h/db", want: `postgres://u:xxxxx@h/db`},
		// The password holds an "@": none of it may show.
		{in: "postgres://u:hunter@2@h/db", want: `postgres://u:xxxxx@h/db`},
		{in: "postgres://u@h/db", want: `postgres://u@h/db`},
		{in: "sqlite://asyncmq.db", want: `sqlite://asyncmq.db`},
		// Does not parse (bad escape): the user info goes whole.
		{in: "postgres://u:hun%zz@ter2@h/db", want: `postgres://xxxxx@h/db`},
		{in: "not a url", want: `not a url`},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
