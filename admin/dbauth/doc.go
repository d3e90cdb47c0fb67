// Package dbauth is the "JWT plus database user check" admin.AuthBackend: it accepts a JSON Web
// Token, verified exactly as package jwtauth verifies it, and then loads the user the token names
// from a users.Store, so that a suspended user loses access on the next request and roles come
// from the database rather than from the token.
//
//	store, err := users.OpenSQL(ctx, "sqlite", "asyncmq.db")
//	backend, err := dbauth.New(ctx, dbauth.Config{
//		JWT:          jwtauth.Config{Secret: secret, Audience: "asyncmq-admin", Issuer: "https://issuer.example"},
//		Store:        store,
//		RequireAdmin: true,
//	})
//	a, err := admin.New(admin.Config{EnableLogin: true, Backend: backend})
package dbauth
