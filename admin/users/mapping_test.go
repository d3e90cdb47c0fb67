package users_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
)

// An application's own tables: numeric IDs, other column names, a reserved word as a column
// ("user" in PostgreSQL), NULLs where our schema has defaults, and no password column.
var appSchema = map[users.Dialect][]string{
	users.SQLite: {
		`CREATE TABLE app_accounts (account_id INTEGER PRIMARY KEY, mail TEXT, full_name TEXT, enabled BOOLEAN NOT NULL, superuser BOOLEAN NOT NULL, joined TEXT)`,
		`CREATE TABLE app_groups ("user" INTEGER NOT NULL, group_name TEXT NOT NULL)`,
	},
	users.Postgres: {
		`CREATE TABLE app_accounts (account_id BIGINT PRIMARY KEY, mail TEXT, full_name TEXT, enabled BOOLEAN NOT NULL, superuser BOOLEAN NOT NULL, joined TIMESTAMP)`,
		`CREATE TABLE app_groups ("user" BIGINT NOT NULL, group_name TEXT NOT NULL)`,
	},
}

var appMapping = users.Mapping{
	Table: "app_accounts", ID: "account_id", NumericID: true,
	Email: "mail", DisplayName: "full_name", Active: "enabled", Admin: "superuser", CreatedAt: "joined",
	RolesTable: "app_groups", RolesUserID: "user", RolesRole: "group_name",
}

func TestMappingOnApplicationTable(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		for _, stmt := range appSchema[db.Dialect] {
			if _, err := db.DB.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		seed := []string{
			`INSERT INTO app_accounts VALUES (1, 'ann@example.com', NULL, TRUE, TRUE, NULL)`,
			`INSERT INTO app_accounts VALUES (2, NULL, 'Bo', FALSE, FALSE, '2024-05-06 07:08:09')`,
			`INSERT INTO app_groups VALUES (1, 'ops'), (1, 'billing')`,
		}
		for _, stmt := range seed {
			if _, err := db.DB.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		s, err := users.NewSQLStore(ctx, db.DB, db.Dialect, users.WithMapping(appMapping))
		if err != nil {
			t.Fatalf("NewSQLStore with mapping: %v", err)
		}

		ann, err := s.Get(ctx, "1")
		if err != nil {
			t.Fatalf("Get(1): %v", err)
		}
		if ann.ID != "1" || ann.Email != "ann@example.com" || ann.DisplayName != "" || !ann.Active || !ann.Admin ||
			!slices.Equal(ann.Roles, []string{"billing", "ops"}) {
			t.Errorf("Get(1) = %+v", ann)
		}
		bo, err := s.Get(ctx, "2")
		if err != nil {
			t.Fatalf("Get(2): %v", err)
		}
		if bo.Name() != "Bo" || bo.Active || bo.Admin || len(bo.Roles) != 0 || bo.CreatedAt.Year() != 2024 {
			t.Errorf("Get(2) = %+v", bo)
		}

		// A JWT "sub" that is not a number is simply an unknown user, not a database type error
		// (which the gate would turn into a 503 for everyone sending one).
		for _, id := range []string{"abc", "1 OR 1=1", "3"} {
			if _, err := s.Get(ctx, id); !errors.Is(err, users.ErrUserNotFound) {
				t.Errorf("Get(%q) err = %v, want ErrUserNotFound", id, err)
			}
		}

		if err := s.SetActive(ctx, "2", true); err != nil {
			t.Fatalf("SetActive on the mapped table: %v", err)
		}
		var enabled bool
		if err := db.DB.QueryRowContext(ctx, "SELECT enabled FROM app_accounts WHERE account_id = 2").Scan(&enabled); err != nil || !enabled {
			t.Errorf("app_accounts.enabled after SetActive = %t (err %v), want true", enabled, err)
		}
		if _, err := s.Update(ctx, users.User{ID: "1", Email: "ann@new.example", Active: true, Roles: []string{"ops"}}); err != nil {
			t.Fatalf("Update on the mapped table: %v", err)
		}
		if got, _ := s.Get(ctx, "1"); got.Email != "ann@new.example" || got.Admin || !slices.Equal(got.Roles, []string{"ops"}) {
			t.Errorf("after Update: %+v", got)
		}
		if err := s.SetPassword(ctx, "1", cheapHash()); !errors.Is(err, users.ErrNotMapped) {
			t.Errorf("SetPassword without a password column: err = %v, want ErrNotMapped", err)
		}

		// The application's table is its own: no users tables or migration records appear.
		var n int
		q := "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'asyncmq%'"
		if db.Dialect == users.Postgres {
			q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'asyncmq%'"
		}
		if err := db.DB.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 0 {
			t.Errorf("asyncmq tables created beside a mapped table: %d (err %v), want 0", n, err)
		}
	})
}

// Values the mapping has no column for are refused, not silently dropped.
func TestMappingRefusesUnmappedWrites(t *testing.T) {
	t.Parallel()
	db := userstest.SQLite(t)
	ctx := context.Background()
	if _, err := db.DB.ExecContext(ctx, `CREATE TABLE people (login TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	s, err := users.NewSQLStore(ctx, db.DB, db.Dialect, users.WithMapping(users.Mapping{Table: "people", ID: "login"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, users.User{ID: "kim", Active: true}); err != nil {
		t.Fatalf("Create with only an ID column: %v", err)
	}
	got, err := s.Get(ctx, "kim")
	if err != nil || !got.Active || got.Admin {
		t.Errorf("Get = %+v, %v; want an active non-admin (no active/admin columns)", got, err)
	}
	if _, err := s.Update(ctx, users.User{ID: "kim", Active: true}); err != nil {
		t.Errorf("Update that changes nothing mapped: %v", err)
	}
	tests := []struct {
		name string
		u    users.User
	}{
		{"email", users.User{ID: "lee", Active: true, Email: "l@example.com"}},
		{"inactive", users.User{ID: "lee"}},
		{"admin", users.User{ID: "lee", Active: true, Admin: true}},
		{"roles", users.User{ID: "lee", Active: true, Roles: []string{"ops"}}},
	}
	for _, tt := range tests {
		if _, err := s.Create(ctx, tt.u); !errors.Is(err, users.ErrNotMapped) {
			t.Errorf("Create with %s: err = %v, want ErrNotMapped", tt.name, err)
		}
	}
	if err := s.SetActive(ctx, "kim", false); !errors.Is(err, users.ErrNotMapped) {
		t.Errorf("SetActive without an active column: err = %v, want ErrNotMapped", err)
	}
}

// A mapping that names a missing table or column fails at construction, not at the first
// sign-in.
func TestMappingCheckedAgainstTheDatabase(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		if _, err := db.DB.ExecContext(ctx, `CREATE TABLE people (login TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		for _, m := range []users.Mapping{
			{Table: "persons", ID: "login"},
			{Table: "people", ID: "login", Email: "mail"},
		} {
			_, err := users.NewSQLStore(ctx, db.DB, db.Dialect, users.WithMapping(m))
			if err == nil || !strings.Contains(err.Error(), "prepare user lookup on "+m.Table) {
				t.Errorf("mapping %+v: err = %v, want a refusal naming the table", m, err)
			}
		}
	})
}

func TestMappingValidate(t *testing.T) {
	t.Parallel()
	ok := users.Mapping{Table: "auth.users", ID: "id"}
	tests := []struct {
		name string
		edit func(m *users.Mapping)
		want string // "" = valid
	}{
		{"minimal, schema-qualified", func(m *users.Mapping) {}, ""},
		{"default", func(m *users.Mapping) { *m = users.DefaultMapping() }, ""},
		{"no table", func(m *users.Mapping) { m.Table = "" }, "required"},
		{"no id", func(m *users.Mapping) { m.ID = "" }, "required"},
		{"injection in table", func(m *users.Mapping) { m.Table = "users; DROP TABLE jobs" }, "Table"},
		{"quote in column", func(m *users.Mapping) { m.Email = `mail" FROM x --` }, "Email"},
		{"leading digit", func(m *users.Mapping) { m.Admin = "1admin" }, "Admin"},
		{"three-part name", func(m *users.Mapping) { m.Table = "db.auth.users" }, "dot"},
		{"dot in column", func(m *users.Mapping) { m.ID = "u.id" }, "ID"},
		{"too long", func(m *users.Mapping) { m.Active = strings.Repeat("a", 64) }, "Active"},
		{"unicode", func(m *users.Mapping) { m.DisplayName = "nаme" }, "DisplayName"},
		{"partial roles", func(m *users.Mapping) { m.RolesTable = "roles" }, "RolesTable, RolesUserID and RolesRole"},
		{"bad roles table", func(m *users.Mapping) {
			m.RolesTable, m.RolesUserID, m.RolesRole = "roles)", "uid", "role"
		}, "RolesTable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	// NewSQLStore validates before anything reaches the database.
	db := userstest.SQLite(t)
	_, err := users.NewSQLStore(context.Background(), db.DB, db.Dialect, users.WithMapping(users.Mapping{Table: "x;", ID: "id"}))
	if err == nil {
		t.Error("NewSQLStore with an invalid mapping: want an error")
	}
}

func FuzzMappingValidate(f *testing.F) {
	for _, s := range []string{"users", "auth.users", `a"b`, "a;b", "a b", "ä", "_x9", "a..b", ".a", "a."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		m := users.Mapping{Table: name, ID: name, Email: name, RolesTable: name, RolesUserID: name, RolesRole: name}
		if m.Validate() != nil {
			return
		}
		// Whatever is accepted can only ever be a plain identifier: no quoting or statement
		// syntax can reach SQL through a mapping.
		for _, r := range name {
			if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("Validate accepted %q with character %q", name, r)
			}
		}
	})
}
