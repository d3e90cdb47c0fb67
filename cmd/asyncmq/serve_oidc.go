package main

import (
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/asyncmq/asyncmq/admin/oidcauth"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/cliserve"
)

// envOIDCClientSecret holds the OpenID Connect client secret; there is deliberately no flag
// for it, since command lines are visible to every user of the machine.
const envOIDCClientSecret = "ASYNCMQ_OIDC_CLIENT_SECRET"

// addOIDCFlags registers the --oidc-* flags of serve on f, filling o, and returns where
// --oidc-client-secret-file lands.
func addOIDCFlags(f *pflag.FlagSet, o *cliserve.Options) *string {
	f.StringVar(&o.OIDCIssuer, "oidc-issuer", "", "OpenID Connect issuer URL; its discovery document is read at start (--auth oidc)")
	f.StringVar(&o.OIDCClientID, "oidc-client-id", "", "client ID registered at the provider (--auth oidc)")
	f.StringVar(&o.OIDCRedirectURL, "oidc-redirect-url", "", "callback URL registered at the provider: the dashboard's public URL + "+oidcauth.CallbackPath)
	f.StringSliceVar(&o.OIDCScopes, "oidc-scopes", nil, `scopes to request (default openid,profile,email; add offline_access for silent renewal)`)
	f.StringVar(&o.OIDCRolesClaim, "oidc-roles-claim", oidcauth.DefaultRolesClaim, `claim holding groups or roles; a dotted path such as realm_access.roles reaches nested claims`)
	f.StringSliceVar(&o.OIDCRoleMap, "oidc-role-map", nil, "GROUP=ROLE pairs mapping provider groups to viewer, operator or admin")
	f.StringSliceVar(&o.OIDCAllowedDomains, "oidc-allowed-domains", nil, "admit users whose verified email is in these domains (as viewers unless mapped)")
	f.StringSliceVar(&o.OIDCAllowedGroups, "oidc-allowed-groups", nil, "admit users in these groups (as viewers unless mapped)")
	f.StringVar(&o.OIDCRequiredClaim, "oidc-required-claim", "", "admit users whose ID token has this claim: NAME (true) or NAME=VALUE")
	f.StringVar(&o.OIDCProviderName, "oidc-provider-name", oidcauth.DefaultProviderName, `provider name on the login page's "Sign in with …" button`)
	return f.String("oidc-client-secret-file", "", "file holding the client secret (default: "+envOIDCClientSecret+")")
}

// oidcClientSecret reads the client secret from file, else from ASYNCMQ_OIDC_CLIENT_SECRET.
func oidcClientSecret(getenv func(string) (string, bool), file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, cli.Usagef("--oidc-client-secret-file: %w", err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) == 0 {
			return nil, cli.Usagef("--oidc-client-secret-file %s: file is empty", file)
		}
		return b, nil
	}
	if v, ok := getenv(envOIDCClientSecret); ok && v != "" {
		return []byte(v), nil
	}
	return nil, nil
}
