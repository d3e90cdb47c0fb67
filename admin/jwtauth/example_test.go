package jwtauth_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
)

// Put the dashboard behind tokens signed with a shared secret, as AsyncMQ's JWTAuthBackend
// does, with the audience and issuer checked.
func ExampleNew() {
	secret, err := jwtauth.GenerateSecret("HS256") // in production: read it from a secret store
	if err != nil {
		log.Fatal(err)
	}
	backend, err := jwtauth.New(context.Background(), jwtauth.Config{
		Secret:   secret,
		Audience: "asyncmq-admin",
		Issuer:   "https://issuer.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := admin.New(admin.Config{EnableLogin: true, Backend: backend})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Mount(mux) // GET /asyncmq/ with "Authorization: Bearer <token>"
}

// Verify tokens from an identity provider's rotating key set.
func ExampleNew_jwks() {
	backend, err := jwtauth.New(context.Background(), jwtauth.Config{
		JWKSURL:  "https://idp.example/.well-known/jwks.json",
		Audience: "asyncmq-admin",
		Issuer:   "https://idp.example/",
	})
	if err != nil {
		log.Fatal(err) // the first fetch failed; the error names the URL
	}
	defer backend.Verifier().Close() // stops the background refresh
}

// Mint an operator token signed with an ES256 key, and the key set to publish for verifiers.
func ExampleIssue() {
	key, err := jwtauth.GenerateKey("ES256")
	if err != nil {
		log.Fatal(err)
	}
	kid, err := jwtauth.Thumbprint(key.Public())
	if err != nil {
		log.Fatal(err)
	}
	token, err := jwtauth.Issue(jwtauth.IssueParams{
		Subject:  "alice",
		Name:     "Alice",
		Audience: "asyncmq-admin",
		TTL:      time.Hour,
		Roles:    []string{"operator"},
		KeyID:    kid,
	}, "ES256", key)
	if err != nil {
		log.Fatal(err)
	}
	jwks, err := jwtauth.PublicJWKS(key.Public(), "ES256", kid)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "Authorization: Bearer", token)
	fmt.Fprintf(os.Stderr, "publish: %s\n", jwks)
}
