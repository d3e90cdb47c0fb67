package cliserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/asyncmq/asyncmq/admin/oidcauth"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/cli"
)

// AuthOIDC signs users in with an OpenID Connect provider (--auth oidc).
const AuthOIDC = "oidc"

// oidcFlags maps each oidcauth.Config field to the flag that sets it, so that a refused
// setting is reported with its flag and variable.
var oidcFlags = map[string]string{
	"Issuer":                "oidc-issuer",
	"ClientID":              "oidc-client-id",
	"RedirectURL":           "oidc-redirect-url",
	"PostLogoutRedirectURL": "oidc-redirect-url",
	"Scopes":                "oidc-scopes",
	"RolesClaim":            "oidc-roles-claim",
	"RoleMap":               "oidc-role-map",
	"AllowedDomains":        "oidc-allowed-domains",
	"AllowedGroups":         "oidc-allowed-groups",
	"RequiredClaim":         "oidc-required-claim",
	"ProviderName":          "oidc-provider-name",
}

// oidcConfig maps the --oidc-* flags onto an oidcauth.Config, checking --oidc-role-map.
func (o *Options) oidcConfig(log *slog.Logger) (oidcauth.Config, error) {
	roleMap := map[string]string{}
	for _, entry := range o.OIDCRoleMap {
		group, role, ok := strings.Cut(entry, "=")
		group, role = strings.TrimSpace(group), strings.TrimSpace(role)
		if !ok || group == "" || role == "" {
			return oidcauth.Config{}, flagErr("oidc-role-map", "%q: want GROUP=ROLE, such as asyncmq-admins=admin", entry)
		}
		roleMap[group] = role
	}
	cfg := oidcauth.Config{
		Issuer:         o.OIDCIssuer,
		ClientID:       o.OIDCClientID,
		ClientSecret:   string(o.OIDCClientSecret),
		RedirectURL:    o.OIDCRedirectURL,
		Scopes:         o.OIDCScopes,
		ProviderName:   o.OIDCProviderName,
		RolesClaim:     o.OIDCRolesClaim,
		RoleMap:        roleMap,
		AllowedDomains: o.OIDCAllowedDomains,
		AllowedGroups:  o.OIDCAllowedGroups,
		RequiredClaim:  o.OIDCRequiredClaim,
		Logger:         log,
	}
	if err := cfg.Validate(); err != nil {
		return oidcauth.Config{}, oidcFlagErr(err)
	}
	return cfg, nil
}

// oidcFlagErr reports a refused oidcauth.Config as a usage error naming the flag at fault.
func oidcFlagErr(err error) error {
	var ce *oidcauth.ConfigError
	if errors.As(err, &ce) {
		if flag, ok := oidcFlags[ce.Field]; ok {
			return flagErr(flag, "%s", ce.Msg)
		}
	}
	return cli.Usagef("--auth oidc: %w", err)
}

// validateOIDC checks the --oidc-* flags without contacting the provider.
func (o *Options) validateOIDC() error {
	_, err := o.oidcConfig(nil)
	return err
}

// newOIDC discovers the provider and builds the backend; sign-ins are recorded in the audit
// log through record.
func (o *Options) newOIDC(ctx context.Context, log *slog.Logger, closers *closeStack) (*oidcauth.Backend, error) {
	cfg, err := o.oidcConfig(log)
	if err != nil {
		return nil, err
	}
	if o.recordAudit != nil {
		record := o.recordAudit
		cfg.Audit = func(ctx context.Context, e oidcauth.AuditEvent) {
			_, err := record(ctx, asyncmqtype.AuditEntry{Actor: e.Actor, Action: e.Action, Status: e.Status, Source: "oidc", Detail: e.Detail})
			if err != nil {
				log.ErrorContext(ctx, "could not record sign-in in the audit log", "user", e.Actor, "status", e.Status, "err", err)
			}
		}
	}
	b, err := oidcauth.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer (%s): %w", cli.EnvName("oidc-issuer"), err)
	}
	closers.push("OIDC key refresh", b.Close)
	return b, nil
}
