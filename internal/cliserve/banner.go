package cliserve

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/asyncmq/asyncmq/admin/oidcauth"
)

// printBanner tells a person where the dashboard is and how to get in. It never prints a secret;
// the demo token is printed because it is the way in, and it dies with this run's secret.
func printBanner(w io.Writer, url string, o *Options, a *authSetup) {
	fmt.Fprintf(w, "asyncmq dashboard: %s\n", url)
	switch {
	case a.demoToken != "":
		login := strings.TrimSuffix(url, "/") + "/login"
		step2 := fmt.Sprintf("paste this admin token into the form; it is kept in the %q cookie", o.JWTCookie)
		if o.JWTCookie == "" {
			step2 = "send this admin token in an Authorization: Bearer header (--jwt-cookie is off, so the form is too)"
		}
		fmt.Fprintf(w, `
Demo sign-in (a JWT secret was generated for this run; the token dies with it, or in %s):
  1. open %s
  2. %s:

%s

Or call the dashboard directly:
  curl -H 'Authorization: Bearer %s' %s

Set ASYNCMQ_JWT_SECRET (32+ random bytes) to keep tokens valid across restarts, then issue them
with: asyncmq token issue --sub alice --role operator
`, a.demoTokenTTL, login, step2, a.demoToken, a.demoToken, url)
	case o.Auth == AuthNone:
		fmt.Fprintln(w, "No sign-in (--auth none): anyone who can reach this address can manage every queue.")
	case o.Auth == AuthJWT || o.Auth == AuthJWTDB:
		fmt.Fprintln(w, "Sign in with a bearer token: asyncmq token issue --sub alice --role operator")
	case o.Auth == AuthOIDC:
		fmt.Fprintf(w, "Sign in with %s (OpenID Connect, issuer %s)\n", cmp.Or(o.OIDCProviderName, oidcauth.DefaultProviderName), o.OIDCIssuer)
	case o.Auth == AuthPassword:
		fmt.Fprintln(w, "Sign in with a password; add users with: asyncmq users add alice --role operator && asyncmq users set-password alice")
	}
}
