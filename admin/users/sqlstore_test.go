package users_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
)

// cheapHash is a valid argon2id hash made with tiny parameters: store tests need a hash to store,
// not the cost of a real one.
var cheapHash = sync.OnceValue(func() string {
	h, err := users.Hasher{Params: users.HashParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}.Hash("correct horse")
	if err != nil {
		panic(err)
	}
	return h
})

func TestSQLStoreLifecycle(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		s := userstest.Store(t, db)

		created, err := s.Create(ctx, users.User{ID: "alice", Email: "alice@example.com", Active: true, Admin: true,
			Roles: []string{"operator", " viewer ", "operator", ""}})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if want := []string{"operator", "viewer"}; !slices.Equal(created.Roles, want) {
			t.Errorf("created roles = %q, want %q", created.Roles, want)
		}
		if created.CreatedAt.IsZero() || !created.CreatedAt.Equal(created.UpdatedAt) {
			t.Errorf("created times = %v / %v, want equal and set", created.CreatedAt, created.UpdatedAt)
		}

		got, err := s.Get(ctx, "alice")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		want := *created
		if !equalUser(got, &want) {
			t.Errorf("Get = %+v, want %+v", got, &want)
		}
		if got.Name() != "alice@example.com" {
			t.Errorf("Name() = %q, want the email when there is no display name", got.Name())
		}

		if _, err := s.Create(ctx, users.User{ID: "alice", Active: true}); !errors.Is(err, users.ErrUserExists) {
			t.Errorf("Create duplicate: err = %v, want ErrUserExists", err)
		}

		updated, err := s.Update(ctx, users.User{ID: "alice", DisplayName: "Alice A.", Active: true, Roles: []string{"viewer"}})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if updated.Admin || updated.Email != "" || updated.DisplayName != "Alice A." || !slices.Equal(updated.Roles, []string{"viewer"}) {
			t.Errorf("Update = %+v, want admin off, email cleared, one role", updated)
		}
		if !updated.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("Update changed CreatedAt from %v to %v", created.CreatedAt, updated.CreatedAt)
		}

		if err := s.SetActive(ctx, "alice", false); err != nil {
			t.Fatalf("SetActive: %v", err)
		}
		if err := s.SetPassword(ctx, "alice", cheapHash()); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		got, err = s.Get(ctx, "alice")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.Active || got.PasswordHash != cheapHash() {
			t.Errorf("after SetActive(false)+SetPassword: active=%t hash=%q", got.Active, got.PasswordHash)
		}

		if err := s.Remove(ctx, "alice"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if _, err := s.Get(ctx, "alice"); !errors.Is(err, users.ErrUserNotFound) {
			t.Errorf("Get after Remove: err = %v, want ErrUserNotFound", err)
		}
		// Roles must be gone too, or a new user with the same ID would inherit them.
		again, err := s.Create(ctx, users.User{ID: "alice", Active: true})
		if err != nil {
			t.Fatalf("re-Create: %v", err)
		}
		if got, _ := s.Get(ctx, "alice"); len(got.Roles) != 0 {
			t.Errorf("re-created user has roles %q, want none (created %+v)", got.Roles, again)
		}
	})
}

func TestSQLStoreUnknownUser(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		s := userstest.Store(t, db)
		tests := []struct {
			name string
			call func() error
		}{
			{"Get", func() error { _, err := s.Get(ctx, "ghost"); return err }},
			{"Update", func() error { _, err := s.Update(ctx, users.User{ID: "ghost", Active: true}); return err }},
			{"SetActive", func() error { return s.SetActive(ctx, "ghost", false) }},
			{"SetPassword", func() error { return s.SetPassword(ctx, "ghost", cheapHash()) }},
			{"Remove", func() error { return s.Remove(ctx, "ghost") }},
		}
		for _, tt := range tests {
			err := tt.call()
			if !errors.Is(err, users.ErrUserNotFound) || !strings.Contains(err.Error(), `"ghost"`) {
				t.Errorf("%s: err = %v, want ErrUserNotFound naming the ID", tt.name, err)
			}
		}
	})
}

func TestSQLStoreRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := userstest.Store(t, userstest.SQLite(t))
	ctx := context.Background()
	tests := []struct {
		name string
		u    users.User
		want string
	}{
		{"empty ID", users.User{}, "empty"},
		{"spaces around ID", users.User{ID: " bob"}, "spaces"},
		{"control character", users.User{ID: "bob\nadmin"}, "control character"},
		{"ID too long", users.User{ID: strings.Repeat("a", users.MaxIDLen+1)}, "longer than the limit"},
		{"invalid UTF-8", users.User{ID: "bob\xff"}, "UTF-8"},
		{"role too long", users.User{ID: "bob", Roles: []string{strings.Repeat("r", users.MaxRoleLen+1)}}, "role"},
		{"email control character", users.User{ID: "bob", Email: "a\x00@b"}, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(ctx, tt.u)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Create(%+v) err = %v, want it to mention %q", tt.u, err, tt.want)
			}
		})
	}
	if _, err := s.Create(ctx, users.User{ID: "bob", Active: true}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"hunter2hunter2", "$argon2id$v=19$m=1,t=0,p=0$AAAA$AAAA", "$2a$31$" + strings.Repeat("a", 53)} {
		err := s.SetPassword(ctx, "bob", v)
		if !errors.Is(err, users.ErrUnsupportedHash) {
			t.Errorf("SetPassword(%q) err = %v, want ErrUnsupportedHash", v, err)
		}
		if err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("SetPassword error %q echoes the refused value", err)
		}
	}
	if err := s.SetPassword(ctx, "bob", ""); err != nil {
		t.Errorf("SetPassword(\"\") (remove password): %v", err)
	}
}

func TestSQLStoreList(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		s := userstest.Store(t, db)
		for _, id := range []string{"carol", "alice", "dave", "bob"} {
			if _, err := s.Create(ctx, users.User{ID: id, Active: true, Roles: []string{"r1", "r2"}}); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			p    users.ListParams
			want []string
		}{
			{users.ListParams{}, []string{"alice", "bob", "carol", "dave"}},
			{users.ListParams{Limit: 2}, []string{"alice", "bob"}},
			{users.ListParams{After: "bob", Limit: 1}, []string{"carol"}},
			{users.ListParams{After: "bob"}, []string{"carol", "dave"}},
			{users.ListParams{After: "zed"}, nil},
		}
		for _, tt := range tests {
			got, err := s.List(ctx, tt.p)
			if err != nil {
				t.Fatalf("List(%+v): %v", tt.p, err)
			}
			var ids []string
			for _, u := range got {
				ids = append(ids, u.ID)
				if !slices.Equal(u.Roles, []string{"r1", "r2"}) {
					t.Errorf("List(%+v): %s roles = %q, want both roles on the one row", tt.p, u.ID, u.Roles)
				}
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("List(%+v) = %q, want %q", tt.p, ids, tt.want)
			}
		}
		if _, err := s.List(ctx, users.ListParams{Limit: -1}); err == nil {
			t.Error("List with a negative limit: want an error")
		}
	})
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	userstest.Each(t, func(t *testing.T, db userstest.DB) {
		ctx := context.Background()
		// Several processes starting at once must agree on one migration.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = users.NewSQLStore(ctx, db.DB, db.Dialect)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("concurrent NewSQLStore #%d: %v", i, err)
			}
		}
		var rows int
		if err := db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM asyncmq_users_migrations WHERE component = 'users'").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Errorf("users migration recorded %d times, want 1", rows)
		}

		// A schema written by a newer binary is refused, not misread.
		if _, err := db.DB.ExecContext(ctx, "INSERT INTO asyncmq_users_migrations (component, version, applied_at) VALUES ('users', 99, "+nowLiteral(db)+")"); err != nil {
			t.Fatal(err)
		}
		_, err := users.NewSQLStore(ctx, db.DB, db.Dialect)
		if err == nil || !strings.Contains(err.Error(), "version 99") {
			t.Errorf("NewSQLStore on a newer schema: err = %v, want it to name version 99", err)
		}
	})
}

func nowLiteral(db userstest.DB) string {
	if db.Dialect == users.Postgres {
		return "now()"
	}
	return "'2026-01-01T00:00:00.000000Z'"
}

// The store shares the queue's SQLite file, so everything it creates must carry the asyncmq_
// prefix and leave other tables alone.
func TestSQLiteCoexistsWithQueueTables(t *testing.T) {
	t.Parallel()
	db := userstest.SQLite(t)
	ctx := context.Background()
	if _, err := db.DB.ExecContext(ctx, "CREATE TABLE jobs (id TEXT PRIMARY KEY); INSERT INTO jobs VALUES ('j1')"); err != nil {
		t.Fatal(err)
	}
	s := userstest.Store(t, db)
	if _, err := users.NewSessionStore(ctx, s.DB(), s.Dialect(), users.SessionCleanupInterval(0)); err != nil {
		t.Fatal(err)
	}
	rows, err := db.DB.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	want := []string{"asyncmq_admin_sessions", "asyncmq_user_roles", "asyncmq_users", "asyncmq_users_migrations", "jobs"}
	if !slices.Equal(tables, want) {
		t.Errorf("tables = %q, want %q", tables, want)
	}
	var n int
	if err := db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM jobs").Scan(&n); err != nil || n != 1 {
		t.Errorf("queue table after migration: %d rows, err %v; want it untouched", n, err)
	}
}

func TestOpenSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := t.TempDir() + "/asyncmq.db"
	s, err := users.OpenSQL(ctx, "sqlite", path)
	if err != nil {
		t.Fatalf("OpenSQL: %v", err)
	}
	if _, err := s.Create(ctx, users.User{ID: "alice", Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "alice"); err == nil {
		t.Error("Get after Close: want an error, the database is closed")
	}
	// A second open of the same file sees the user: the data is on disk, not in the process.
	s2, err := users.OpenSQL(ctx, "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Get(ctx, "alice"); err != nil {
		t.Errorf("Get after reopen: %v", err)
	}

	if _, err := users.OpenSQL(ctx, "mysql", "x"); err == nil || !strings.Contains(err.Error(), `"mysql"`) {
		t.Errorf("OpenSQL(mysql) err = %v, want an unsupported-driver error", err)
	}
}

func equalUser(a, b *users.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.DisplayName == b.DisplayName && a.Active == b.Active &&
		a.Admin == b.Admin && slices.Equal(a.Roles, b.Roles) && a.PasswordHash == b.PasswordHash &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
