package cli

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParseQueues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    map[string]int
		wantErr string
	}{
		{spec: "default", want: map[string]int{"default": 7}},
		{spec: "critical=10, default=5", want: map[string]int{"critical": 10, "default": 5}},
		{spec: "a=1,b", want: map[string]int{"a": 1, "b": 7}},
		{spec: "", wantErr: "no queue named"},
		{spec: " , ", wantErr: "no queue named"},
		{spec: "a=0", wantErr: `"a=0": concurrency must be a positive whole number`},
		{spec: "a=x", wantErr: `"a=x": concurrency must be a positive whole number`},
		{spec: "=3", wantErr: `"=3": empty queue name`},
		{spec: "a,a=2", wantErr: `queue "a" listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			got, err := ParseQueues(tt.spec, 7)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseQueues(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseQueues(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
			}
			if back, _ := ParseQueues(FormatQueues(got), 7); !reflect.DeepEqual(back, got) {
				t.Fatalf("FormatQueues round trip: %v → %q → %v", got, FormatQueues(got), back)
			}
		})
	}
}

func FuzzParseQueues(f *testing.F) {
	for _, s := range []string{"default", "a=1,b=2", "=", ",,", "a=-1", "a=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		qs, err := ParseQueues(spec, 1)
		if err != nil {
			return
		}
		for name, c := range qs {
			if name == "" || c <= 0 {
				t.Fatalf("ParseQueues(%q) accepted queue %q with concurrency %d", spec, name, c)
			}
		}
	})
}

type flagsFixture struct {
	fs      *pflag.FlagSet
	addr    *string
	workers *int
	grace   *time.Duration
	roles   *[]string
	demo    *bool
}

func setup(t *testing.T) *flagsFixture {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	return &flagsFixture{
		fs:      fs,
		addr:    fs.String("addr", "127.0.0.1:8000", ""),
		workers: fs.Int("workers", 10, ""),
		grace:   fs.Duration("jwt-leeway", 0, ""),
		roles:   fs.StringSlice("trusted-proxies", []string{"10.0.0.1"}, ""),
		demo:    fs.Bool("demo", false, ""),
	}
}

func TestBindEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*flagsFixture) bool
		wantErr string
	}{
		{
			name:  "variable used when flag absent",
			env:   map[string]string{"ASYNCMQ_ADDR": "127.0.0.1:9000", "ASYNCMQ_WORKERS": "3", "ASYNCMQ_DEMO": "true"},
			check: func(f *flagsFixture) bool { return *f.addr == "127.0.0.1:9000" && *f.workers == 3 && *f.demo },
		},
		{
			name:  "flag wins over variable",
			args:  []string{"--addr", "127.0.0.1:1"},
			env:   map[string]string{"ASYNCMQ_ADDR": "127.0.0.1:9000"},
			check: func(f *flagsFixture) bool { return *f.addr == "127.0.0.1:1" && f.fs.Changed("addr") },
		},
		{
			name:  "empty variable ignored",
			env:   map[string]string{"ASYNCMQ_WORKERS": ""},
			check: func(f *flagsFixture) bool { return *f.workers == 10 && !f.fs.Changed("workers") },
		},
		{
			name: "list replaces default",
			env:  map[string]string{"ASYNCMQ_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"},
			check: func(f *flagsFixture) bool {
				return reflect.DeepEqual(*f.roles, []string{"10.0.0.0/8", "192.0.2.1"})
			},
		},
		{
			name:    "bad number names the variable",
			env:     map[string]string{"ASYNCMQ_WORKERS": "many"},
			wantErr: `environment variable ASYNCMQ_WORKERS="many" (for --workers): not a valid number`,
		},
		{
			name:    "bad duration names the variable",
			env:     map[string]string{"ASYNCMQ_JWT_LEEWAY": "soon"},
			wantErr: `environment variable ASYNCMQ_JWT_LEEWAY="soon" (for --jwt-leeway): time: invalid duration "soon"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			if err := f.fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			err := BindEnv(f.fs, lookup)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("BindEnv error = %v, want %q", err, tt.wantErr)
				}
				if ExitCode(err) != ExitUsage {
					t.Fatalf("ExitCode = %d, want %d", ExitCode(err), ExitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f) {
				t.Fatalf("flags after BindEnv: addr=%q workers=%d proxies=%v demo=%v", *f.addr, *f.workers, *f.roles, *f.demo)
			}
		})
	}
}

func TestBindEnvOnlyNamed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	env := map[string]string{"ASYNCMQ_ADDR": "x:1", "ASYNCMQ_WORKERS": "4"}
	if err := BindEnv(f.fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "workers"); err != nil {
		t.Fatal(err)
	}
	if *f.addr != "127.0.0.1:8000" || *f.workers != 4 {
		t.Fatalf("addr=%q workers=%d; want only workers bound", *f.addr, *f.workers)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitRuntime},
		{Usagef("--addr: bad"), ExitUsage},
		{fmt.Errorf("wrapped: %w", Usagef("bad")), ExitUsage},
		{AsUsage(errors.New("bad")), ExitUsage},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if AsUsage(nil) != nil {
		t.Error("AsUsage(nil) != nil")
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	var tb Table
	tb.Header = []string{"ID", "QUEUE", "CREATED", "PAUSED"}
	tb.Append("j1", "default", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), true)
	tb.Append("j2", "evil\tq\n\x1b[31mred\u009b2J", time.Time{}, false)
	var buf bytes.Buffer
	if err := tb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "ID  QUEUE             CREATED              PAUSED\n" +
		"j1  default           2025-01-02 03:04:05  yes\n" +
		"j2  evil q [31mred2J  -                    no\n"
	if buf.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestKeyValues(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := KeyValues(&buf, "name", "default", "paused", false, "waiting", 3); err != nil {
		t.Fatal(err)
	}
	want := "name:    default\npaused:  no\nwaiting: 3\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}

func TestProgressSilentOffTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := NewProgress(&buf, "retry", 10)
	p.Add(5)
	p.Add(5)
	p.Done()
	if buf.Len() != 0 {
		t.Fatalf("progress wrote %q to a non-terminal", buf.String())
	}
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("log output %q", buf.String())
	}
	if _, err := NewLogger(&buf, "loud"); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Fatalf("NewLogger(loud) error = %v", err)
	}
}

func TestUsersDB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		backend, usersDB    string
		wantDriver, wantDSN string
		wantErr             string
	}{
		{backend: "sqlite://asyncmq.db", wantDriver: "sqlite", wantDSN: "asyncmq.db"},
		{backend: "sqlite:///var/lib/q.db", wantDriver: "sqlite", wantDSN: "/var/lib/q.db"},
		{backend: "SQLite3://q.db", wantDriver: "sqlite", wantDSN: "q.db"},
		{backend: "memory://", usersDB: "sqlite://users.db", wantDriver: "sqlite", wantDSN: "users.db"},
		{backend: "memory://", usersDB: "postgres://u@h/db", wantDriver: "pgx", wantDSN: "postgres://u@h/db"},
		{backend: "memory://", wantErr: "--users-db"},
		{backend: "postgres://u:secret@h/db?schema=jobs&migrate=auto", wantDriver: "pgx", wantDSN: "postgres://u:secret@h/db?search_path=%22jobs%22"},
		{backend: "sqlite://q.db", usersDB: "mysql://u:secret@h/db", wantErr: `"mysql://u:xxxxx@h/db"`},
	}
	for _, tt := range tests {
		driver, dsn, err := UsersDB(tt.backend, tt.usersDB)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "secret") || ExitCode(err) != ExitUsage {
				t.Errorf("UsersDB(%q, %q) error = %v, want a usage error containing %q", tt.backend, tt.usersDB, err, tt.wantErr)
			}
			continue
		}
		if err != nil || driver != tt.wantDriver || dsn != tt.wantDSN {
			t.Errorf("UsersDB(%q, %q) = %q, %q, %v; want %q, %q", tt.backend, tt.usersDB, driver, dsn, err, tt.wantDriver, tt.wantDSN)
		}
	}
}
