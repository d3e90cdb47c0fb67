package users_test

import (
	"context"
	"testing"

	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/admin/users/userstest"
)

// BenchmarkGet is the store's share of a dbauth or passwordauth request: one user, roles joined.
//
//	ASYNCMQ_TEST_POSTGRES=postgres://... go test -run '^$' -bench Get -benchmem ./admin/users/
func BenchmarkGet(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(testing.TB) userstest.DB
	}{{"sqlite", userstest.SQLite}, {"postgres", userstest.Postgres}} {
		b.Run(c.name, func(b *testing.B) {
			s := userstest.Store(b, c.open(b))
			ctx := context.Background()
			if _, err := s.Create(ctx, users.User{ID: "root", Active: true, Admin: true, Roles: []string{"operator", "viewer"}}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(ctx, "root"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
