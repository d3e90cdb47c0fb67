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
		{in: "postgres://h/db?sslmode=disable&password=hunter2", want: `postgres://h/db?password=xxxxx&sslmode=disable`},
		{in: "https://idp.example/jwks?api_key=hunter2", want: `https://idp.example/jwks?api_key=xxxxx`},
		{in: "sqlite://x.db?mode=ro", want: `sqlite://x.db?mode=ro`},
		{in: "postgres://u:hunter2@h/db?sslpassword=hunter2", want: `postgres://u:xxxxx@h/db?sslpassword=xxxxx`},
		{in: "postgres://u:hun%zz@h/db?password=hunter2", want: `postgres://xxxxx@h/db?xxxxx`},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
