package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/asyncmq/asyncmq/admin/proxyauth"
	"github.com/asyncmq/asyncmq/internal/cli"
	"github.com/asyncmq/asyncmq/internal/cliserve"
)

func newServeCmd(a *app) *cobra.Command {
	o := cliserve.Options{}
	var secretFile string
	var oidcSecretFile *string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard and run workers in one process",
		Long: `Serve the admin dashboard and run workers in one process, on the store --backend names.

Every flag also reads an ASYNCMQ_<FLAG> variable (--jwt-audience: ASYNCMQ_JWT_AUDIENCE); the
flag wins. The JWT secret comes from ASYNCMQ_JWT_SECRET or --jwt-secret-file, and the OpenID
Connect client secret from ASYNCMQ_OIDC_CLIENT_SECRET or --oidc-client-secret-file, never a flag.

  asyncmq serve --demo                          # JWT sign-in; prints a token to paste
  asyncmq serve --auth none                     # no sign-in, loopback only
  asyncmq serve --auth proxy --trusted-proxies 10.0.0.0/8 --addr 0.0.0.0:8000 --allowed-hosts ops.example
  asyncmq serve --auth password                 # users from "asyncmq users"
  asyncmq serve --auth oidc --oidc-issuer https://idp.example --oidc-client-id asyncmq \
    --oidc-redirect-url https://ops.example/asyncmq/oidc/callback --oidc-role-map ops=operator
                                                # single sign-on; secret in ASYNCMQ_OIDC_CLIENT_SECRET
  asyncmq serve --workers 0                     # dashboard only, beside "asyncmq worker"

--auth proxy believes identity headers only from --trusted-proxies, and reads exactly these:
  user    --proxy-header         default X-Authenticated-User
  e-mail  --proxy-email-header   default none
  groups  --proxy-groups-header  default X-Authenticated-Roles (groups become roles)
  admin   --proxy-admin-header   default none: no header makes anyone an admin
For oauth2-proxy (--pass-user-headers) pass --proxy-header X-Forwarded-User
--proxy-email-header X-Forwarded-Email --proxy-groups-header X-Forwarded-Groups. A request that
carries X-Authenticated-Admin while --proxy-admin-header does not name it is refused: the proxy
is passing a client's header through. Behind --trusted-proxies, X-Forwarded-For (right-most
untrusted address, for sign-in throttling), X-Forwarded-Host, -Proto, -Port and -Prefix
(right-most value) are believed from those proxies only.

Only requests whose Host is a loopback name (localhost, 127.0.0.1, [::1]) or is listed in
--allowed-hosts are served; others get 421, which stops DNS rebinding. List the names browsers
use to reach the dashboard, or "*" to accept any Host. /health and /ready answer any Host.`,
		Args: cobra.NoArgs,
		RunE: a.action(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if err := cli.BindEnv(cmd.Flags(), a.getenv); err != nil {
				return err
			}
			secret, err := jwtSecret(a.getenv, secretFile)
			if err != nil {
				return err
			}
			if o.OIDCClientSecret, err = oidcClientSecret(a.getenv, *oidcSecretFile); err != nil {
				return err
			}
			if v, ok := a.getenv("ASYNCMQ_SESSION_SECRET"); ok && v != "" {
				// Sessions are server-side: the cookie holds a random token and nothing is signed.
				a.log.Warn("ASYNCMQ_SESSION_SECRET is set but not needed: dashboard sessions are stored server-side and their cookie carries only a random token")
			}
			o.BackendURL = a.backendURL
			o.JWTSecret = secret
			o.Logger = a.log
			o.Out = a.out
			o.OnListen = a.onListen
			o.OnMetricsListen = a.onMetricsListen
			return cliserve.Run(ctx, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:8000", "address to listen on (port 0 picks a free port)")
	f.StringVar(&o.MetricsAddr, "metrics-addr", "", "also serve Prometheus metrics at /metrics on this address, without authentication (e.g. 127.0.0.1:9090)")
	f.StringVar(&o.Prefix, "prefix", "/asyncmq", "path the dashboard is served under")
	f.IntVar(&o.Workers, "workers", 10, "concurrency per queue of the in-process worker; 0 serves the dashboard only")
	f.BoolVar(&o.Demo, "demo", false, "run the demo tasks and keep a trickle of demo jobs flowing")
	f.StringVar(&o.Auth, "auth", cliserve.AuthJWT, "sign-in: "+strings.Join(cliserve.AuthModes, ", "))
	f.BoolVar(&o.Roles, "roles", true, "admit viewer, operator and admin users and enforce their rights per action; off admits admins only")
	f.BoolVar(&o.Insecure, "insecure", false, "allow --auth none on an address other machines can reach")
	f.StringVar(&o.UsersDB, "users-db", "", "users database for jwt-db and password: sqlite://PATH or postgres://... (default the --backend SQLite file)")

	f.StringSliceVar(&o.JWTAlgorithms, "jwt-algorithms", nil, "accepted JWT algorithms (default HS256 with a secret, implied by the key otherwise)")
	f.StringVar(&o.JWTPublicKey, "jwt-public-key", "", "PEM public key verifying tokens (RSA, ECDSA or Ed25519)")
	f.StringVar(&o.JWTJWKSURL, "jwt-jwks-url", "", "JWKS URL of the token issuer (https, or http on loopback)")
	f.StringVar(&o.JWTAudience, "jwt-audience", "", `required "aud" claim`)
	f.StringVar(&o.JWTIssuer, "jwt-issuer", "", `required "iss" claim`)
	f.DurationVar(&o.JWTLeeway, "jwt-leeway", 0, "clock skew allowed on exp/nbf/iat (at most 5m)")
	f.StringVar(&o.JWTCookie, "jwt-cookie", "asyncmq_token", `cookie that may carry the token, set by the login form ("" = header only)`)
	f.StringVar(&secretFile, "jwt-secret-file", "", "file holding the HMAC secret (default: ASYNCMQ_JWT_SECRET)")

	f.StringVar(&o.ProxyHeader, "proxy-header", proxyauth.AsyncMQ.User, "header carrying the user ID (--auth proxy)")
	f.StringVar(&o.ProxyEmailHeader, "proxy-email-header", proxyauth.AsyncMQ.Email, "header carrying the user's e-mail (--auth proxy)")
	f.StringVar(&o.ProxyGroupsHeader, "proxy-groups-header", proxyauth.AsyncMQ.Groups, "header carrying comma-separated groups, used as roles (--auth proxy)")
	f.StringVar(&o.ProxyAdminHeader, "proxy-admin-header", "", `header carrying an admin flag ("true"); off by default: set it only if the proxy sets it on every request and strips it from clients (--auth proxy)`)
	f.StringSliceVar(&o.TrustedProxies, "trusted-proxies", nil, "proxies (IPs, CIDRs) whose identity and X-Forwarded-* headers are believed")
	f.StringSliceVar(&o.AllowedHosts, "allowed-hosts", nil, `host names (or IPs, "name:port") browsers use to reach the dashboard, besides loopback names; "*" = any Host`)
	f.DurationVar(&o.ReadTimeout, "read-timeout", 20*time.Second, "longest a client may take to send a request, body included (live-update streams excepted)")
	f.DurationVar(&o.WriteTimeout, "write-timeout", 60*time.Second, "longest the server may take to send an answer (live-update streams excepted)")
	f.DurationVar(&o.StreamRecheck, "stream-recheck", 30*time.Second, "how often an open live-update stream re-checks that its user may still sign in (sign-outs end streams at once)")
	oidcSecretFile = addOIDCFlags(f, &o)
	f.DurationVar(&o.DemoInterval, "demo-interval", 2*time.Second, "pause between two batches of demo jobs")
	return cmd
}
