package oidcauth

import (
	"errors"
	"slices"
	"testing"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	s, err := Config{
		Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://ops.example/asyncmq/oidc/callback",
		RolesClaim:     "realm_access.roles",
		RoleMap:        map[string]string{"ops": "operator", "root": "admin"},
		AllowedDomains: []string{"@corp.example"},
		AllowedGroups:  []string{"staff"},
		RequiredClaim:  "tier=gold",
	}.settings()
	if err != nil {
		t.Fatal(err)
	}
	roles := func(v ...any) map[string]any { return map[string]any{"roles": v} }
	for _, tc := range []struct {
		name   string
		claims map[string]any
		admit  bool
		roles  []string
	}{
		{"mapped group", map[string]any{"sub": "u", "realm_access": roles("ops")}, true, []string{"operator"}},
		{"two groups, strongest kept with the weaker", map[string]any{"sub": "u", "realm_access": roles("ops", "root")}, true, []string{"operator", "admin"}},
		{"role named as itself", map[string]any{"sub": "u", "realm_access": roles("viewer")}, true, []string{"viewer"}},
		{"allowed group, default role", map[string]any{"sub": "u", "realm_access": roles("staff")}, true, []string{"viewer"}},
		{"allowed domain", map[string]any{"sub": "u", "email": "a@CORP.example"}, true, []string{"viewer"}},
		{"allowed domain but unverified", map[string]any{"sub": "u", "email": "a@corp.example", "email_verified": false}, false, nil},
		{"look-alike domain", map[string]any{"sub": "u", "email": "a@corp.example.evil"}, false, nil},
		{"required claim", map[string]any{"sub": "u", "tier": "gold"}, true, []string{"viewer"}},
		{"required claim in a list", map[string]any{"sub": "u", "tier": []any{"silver", "gold"}}, true, []string{"viewer"}},
		{"required claim other value", map[string]any{"sub": "u", "tier": "silver"}, false, nil},
		{"malformed roles claim", map[string]any{"sub": "u", "realm_access": roles("ops", 7)}, false, nil},
		{"roles claim not a list", map[string]any{"sub": "u", "realm_access": map[string]any{"roles": map[string]any{"ops": true}}}, false, nil},
		{"unmapped group", map[string]any{"sub": "u", "realm_access": roles("guests")}, false, nil},
		{"no subject", map[string]any{"realm_access": roles("root")}, false, nil},
		{"nothing", map[string]any{"sub": "u"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := s.decide(tc.claims)
			if d.admit != tc.admit || !slices.Equal(d.user.Roles, tc.roles) {
				t.Fatalf("admit %v roles %q (%s), want %v %q", d.admit, d.user.Roles, d.reason, tc.admit, tc.roles)
			}
			if d.user.IsAdmin != slices.Contains(tc.roles, "admin") {
				t.Fatalf("IsAdmin %v with roles %q", d.user.IsAdmin, d.user.Roles)
			}
		})
	}
}

func TestClaimAt(t *testing.T) {
	t.Parallel()
	claims := map[string]any{
		"groups":                    []any{"a"},
		"realm_access":              map[string]any{"roles": []any{"b"}},
		"https://example.com/roles": "c",
		"flat":                      "x",
	}
	for path, want := range map[string]any{"groups": "[a]", "realm_access.roles": "[b]", "https://example.com/roles": "c", "flat.more": nil, "missing": nil, "realm_access.none": nil} {
		v, ok := claimAt(claims, path)
		if want == nil {
			if ok {
				t.Errorf("%s: found %v, want nothing", path, v)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: not found", path)
		}
	}
}

func TestConfigRefusals(t *testing.T) {
	t.Parallel()
	good := func() Config {
		return Config{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://ops.example/asyncmq/oidc/callback"}
	}
	for _, tc := range []struct {
		field string
		edit  func(c *Config)
	}{
		{"Issuer", func(c *Config) { c.Issuer = "" }},
		{"Issuer", func(c *Config) { c.Issuer = "http://idp.example" }},
		{"Issuer", func(c *Config) { c.Issuer = "https://user:pw@idp.example" }},
		{"ClientID", func(c *Config) { c.ClientID = " " }},
		{"RedirectURL", func(c *Config) { c.RedirectURL = "https://ops.example/asyncmq/callback" }},
		{"RedirectURL", func(c *Config) { c.RedirectURL = "https://ops.example/asyncmq/oidc/callback?x=1" }},
		{"PostLogoutRedirectURL", func(c *Config) { c.PostLogoutRedirectURL = "javascript:alert(1)" }},
		{"Scopes", func(c *Config) { c.Scopes = []string{"openid email"} }},
		{"RolesClaim", func(c *Config) { c.RolesClaim = "realm_access..roles" }},
		{"RoleMap", func(c *Config) { c.RoleMap = map[string]string{"ops": "superuser"} }},
		{"DefaultRole", func(c *Config) { c.DefaultRole = "root" }},
		{"AllowedDomains", func(c *Config) { c.AllowedDomains = []string{"a@b"} }},
		{"RequiredClaim", func(c *Config) { c.RequiredClaim = "=x" }},
		{"Algorithms", func(c *Config) { c.Algorithms = []string{"none"} }},
		{"Algorithms", func(c *Config) { c.Algorithms = []string{"HS256"} }},
		{"MaxSessionLifetime", func(c *Config) { c.MaxSessionLifetime = -1 }},
	} {
		c := good()
		tc.edit(&c)
		_, err := c.settings()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: error %v, want a ConfigError on %s", c, err, tc.field)
		}
	}
	s, err := good().settings()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Scopes, DefaultScopes) || s.ProviderName != DefaultProviderName || s.RolesClaim != DefaultRolesClaim ||
		s.DefaultRole != "viewer" || s.MaxSessionLifetime != DefaultMaxSessionLifetime {
		t.Errorf("defaults not applied: %+v", s.Config)
	}
	c := good()
	c.Scopes = []string{"email"}
	if s, _ := c.settings(); !slices.Equal(s.Scopes, []string{"openid", "email"}) {
		t.Errorf("scopes %q: openid not added", s.Scopes)
	}
}
