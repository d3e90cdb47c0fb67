package dbauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/dbauth"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
)

// BenchmarkAuthenticate measures the per-request cost of the database check beside the JWT
// verification alone, on one HS256 token. "jwt" is jwtauth.Backend.Authenticate with its default
// verified-token cache; "jwt-nocache" verifies the signature every time. The dbauth cases add a
// live store lookup (one query, roles joined) to the cached verification.
//
//	ASYNCMQ_TEST_POSTGRES=postgres://... go test -run '^$' -bench Authenticate -benchmem ./admin/dbauth/
func BenchmarkAuthenticate(b *testing.B) {
	tok, err := jwtauth.Issue(jwtauth.IssueParams{Subject: "root", Audience: audience, Issuer: issuer, TTL: time.Hour,
		Roles: []string{"operator"}}, "HS256", secret)
	if err != nil {
		b.Fatal(err)
	}
	jwtCfg := jwtauth.Config{Secret: secret, Audience: audience, Issuer: issuer}
	newDB := func(open func(testing.TB) userstest.DB) func(b *testing.B) admin.AuthBackend {
		return func(b *testing.B) admin.AuthBackend {
			db := open(b)
			store := userstest.Store(b, db)
			if _, err := store.Create(context.Background(), users.User{ID: "root", Active: true, Admin: true, Roles: []string{"operator", "viewer"}}); err != nil {
				b.Fatal(err)
			}
			be, err := dbauth.New(context.Background(), dbauth.Config{JWT: jwtCfg, Store: store})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { be.Close() })
			return be
		}
	}
	cases := []struct {
		name    string
		backend func(b *testing.B) admin.AuthBackend
	}{
		{"jwt", func(b *testing.B) admin.AuthBackend {
			be, err := jwtauth.New(context.Background(), jwtCfg)
			if err != nil {
				b.Fatal(err)
			}
			return be
		}},
		{"jwt-nocache", func(b *testing.B) admin.AuthBackend {
			cfg := jwtCfg
			cfg.CacheSize = -1
			be, err := jwtauth.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			return be
		}},
		{"dbauth-sqlite", newDB(userstest.SQLite)},
		{"dbauth-postgres", newDB(userstest.Postgres)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			be := c.backend(b)
			r := httptest.NewRequest(http.MethodGet, "/asyncmq/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
