package cliserve

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/asyncmq/asyncmq/backend/sqlite"

	"github.com/alexedwards/scs/v2"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/dbauth"
	"github.com/asyncmq/asyncmq/admin/jwtauth"
	"github.com/asyncmq/asyncmq/admin/passwordauth"
	"github.com/asyncmq/asyncmq/admin/proxyauth"
	"github.com/asyncmq/asyncmq/admin/users"
	"github.com/asyncmq/asyncmq/internal/cli"
)

// authSetup is what the chosen --auth contributes to the admin.
type authSetup struct {
	// backend is nil for --auth none.
	backend admin.AuthBackend
	// sessions is the admin's session store; nil keeps the admin's in-memory default.
	sessions scs.Store
	// demoToken is an admin token signed with a secret generated for this run (--auth jwt --demo
	// without a secret), printed in the banner so a new user can sign in.
	demoToken string
	// demoTokenTTL is the lifetime of demoToken.
	demoTokenTTL time.Duration
}

// demoTokenTTL is long enough for an afternoon of exploring; the secret dies with the process.
const demoTokenTTL = 12 * time.Hour

// newAuth builds the authentication backend and the session store for o. What it opens is
// pushed on closers.
func newAuth(ctx context.Context, o *Options, log *slog.Logger, closers *closeStack) (*authSetup, error) {
	s := &authSetup{}
	var db *sql.DB // the users database, also home of the sessions
	dialect := users.SQLite
	var store *users.SQLStore
	if o.Auth == AuthJWTDB || o.Auth == AuthPassword {
		var err error
		store, err = cli.OpenUsers(ctx, o.BackendURL, o.UsersDB)
		if err != nil {
			return nil, err
		}
		closers.push("users database", store.Close)
		db, dialect = store.DB(), store.Dialect()
	}
	if err := s.openSessions(ctx, o, db, dialect, log, closers); err != nil {
		return nil, err
	}

	switch o.Auth {
	case AuthNone:
		return s, nil
	case AuthJWT, AuthJWTDB:
		cfg := o.jwtConfig(log)
		if o.Auth == AuthJWT && o.Demo && len(cfg.Secret) == 0 && cfg.PublicKeyFile == "" && cfg.JWKSURL == "" {
			secret, err := jwtauth.GenerateSecret("HS256")
			if err != nil {
				return nil, err
			}
			cfg.Secret = secret
			tok, err := jwtauth.Issue(jwtauth.IssueParams{
				Subject: "demo-admin", Name: "Demo Admin", Admin: true, Roles: []string{"admin"},
				Audience: o.JWTAudience, Issuer: o.JWTIssuer, TTL: demoTokenTTL,
			}, "HS256", secret)
			if err != nil {
				return nil, fmt.Errorf("issue demo token: %w", err)
			}
			s.demoToken, s.demoTokenTTL = tok, demoTokenTTL
		}
		if o.Auth == AuthJWT {
			b, err := jwtauth.New(ctx, cfg)
			if err != nil {
				return nil, jwtFlagErr(err)
			}
			closers.push("JWT verifier", b.Verifier().Close)
			s.backend = b
			return s, nil
		}
		b, err := dbauth.New(ctx, dbauth.Config{JWT: cfg, Store: store})
		if err != nil {
			return nil, jwtFlagErr(err)
		}
		closers.push("JWT verifier", b.Close)
		s.backend = b
		return s, nil
	case AuthProxy:
		b, err := proxyauth.New(proxyauth.Config{
			TrustedProxies: o.TrustedProxies,
			Headers: proxyauth.Headers{
				User:   o.ProxyHeader,
				Email:  o.ProxyEmailHeader,
				Groups: o.ProxyGroupsHeader,
				Admin:  o.ProxyAdminHeader,
			},
			Logger: log,
		})
		if err != nil {
			return nil, cli.Usagef("--auth proxy: %w", err)
		}
		s.backend = b
		return s, nil
	case AuthPassword:
		proxies, err := admin.ParseTrustedProxies(o.TrustedProxies)
		if err != nil {
			return nil, flagErr("trusted-proxies", "%v", err)
		}
		// Behind a proxy every request comes from the proxy's address: throttle sign-ins by the
		// client the proxies vouch for instead, or one client locks everybody out.
		b, err := passwordauth.New(passwordauth.Config{Store: store, Logger: log, ClientKey: passwordauth.ClientFromProxies(proxies)})
		if err != nil {
			return nil, cli.Usagef("--auth password: %w", err)
		}
		s.backend = b
		return s, nil
	case AuthOIDC:
		b, err := o.newOIDC(ctx, log, closers)
		if err != nil {
			return nil, err
		}
		s.backend = b
		return s, nil
	}
	return nil, flagErr("auth", "%q: want one of none, jwt, jwt-db, proxy or password", o.Auth)
}

// jwtConfig maps the --jwt-* flags onto a jwtauth.Config.
func (o *Options) jwtConfig(log *slog.Logger) jwtauth.Config {
	return jwtauth.Config{
		Secret:        o.JWTSecret,
		PublicKeyFile: o.JWTPublicKey,
		JWKSURL:       o.JWTJWKSURL,
		Algorithms:    o.JWTAlgorithms,
		Audience:      o.JWTAudience,
		Issuer:        o.JWTIssuer,
		Leeway:        o.JWTLeeway,
		CookieName:    o.JWTCookie,
		Logger:        log,
	}
}

// jwtFlagErr reports a refused JWT configuration as a usage error pointing at the flags.
func jwtFlagErr(err error) error {
	return cli.Usagef("JWT settings (ASYNCMQ_JWT_SECRET, --jwt-secret-file, --jwt-public-key, --jwt-jwks-url, --jwt-algorithms, --jwt-leeway): %w", err)
}

// openSessions keeps admin sessions in the users database when there is one, else in the
// queue's own database (its SQLite file, or its PostgreSQL schema), so they survive a restart and
// are shared by every serve process on that store. Other backends keep the admin's in-memory
// default.
func (s *authSetup) openSessions(ctx context.Context, o *Options, db *sql.DB, dialect users.Dialect, log *slog.Logger, closers *closeStack) error {
	if db == nil {
		var err error
		if path, ok := sqlite.PathFromURL(o.BackendURL); ok {
			db, err = cli.OpenSQLite(ctx, path)
		} else if dsn, ok := cli.PostgresSQLDSN(o.BackendURL); ok {
			// The pgx driver is registered by package cli.
			db, err = sql.Open("pgx", dsn)
			dialect = users.Postgres
		} else {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open session store: %w", err)
		}
		closers.push("session database", db.Close)
	}
	store, err := users.NewSessionStore(ctx, db, dialect, users.SessionLogger(log))
	if err != nil {
		return fmt.Errorf("open session store: %w", err)
	}
	closers.push("session store", store.Close)
	s.sessions = store
	return nil
}
