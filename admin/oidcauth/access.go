package oidcauth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/admin"
)

// claimAt returns the value at a dotted path in claims: "realm_access.roles" is
// claims["realm_access"]["roles"]. A top-level claim whose own name holds dots wins over the
// path, as providers do emit names such as "https://example.com/roles".
func claimAt(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = claims
	for seg := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// decision is who a set of ID token claims is, and whether they may in.
type decision struct {
	user   admin.User
	admit  bool
	reason string // why they were refused, or how they were admitted
}

// decide applies the admission rules and the role mapping to verified claims.
func (s *settings) decide(claims map[string]any) decision {
	sub, _ := claims["sub"].(string)
	email, _ := claims["email"].(string)
	name, _ := claims["name"].(string)
	d := decision{user: admin.User{ID: sub, Name: name, Email: email, Claims: claims}}
	if sub == "" {
		d.reason = `ID token has no "sub"`
		return d
	}

	var groups []string
	if v, ok := claimAt(claims, s.RolesClaim); ok {
		groups = admin.RolesFromClaim(v)
	}
	roles := map[string]bool{}
	for _, g := range groups {
		if r, ok := s.RoleMap[g]; ok {
			roles[r] = true
		} else if slices.Contains(Roles, g) {
			roles[g] = true
		}
	}

	var by []string
	if s.domainAllowed(claims, email) {
		by = append(by, "email domain")
	}
	for _, g := range s.AllowedGroups {
		if slices.Contains(groups, g) {
			by = append(by, "group "+g)
			break
		}
	}
	if s.RequiredClaim != "" && s.hasRequired(claims) {
		by = append(by, "claim "+s.requiredName)
	}
	if len(roles) == 0 && len(by) > 0 {
		roles[s.DefaultRole] = true
	}
	if len(roles) == 0 {
		d.reason = "no allowed email domain, group or claim, and no role in " + s.RolesClaim
		return d
	}
	for _, r := range Roles {
		if roles[r] {
			d.user.Roles = append(d.user.Roles, r)
		}
	}
	d.user.IsAdmin = roles["admin"]
	d.admit = true
	d.reason = fmt.Sprintf("roles %s", strings.Join(d.user.Roles, ","))
	if len(by) > 0 {
		d.reason += " (admitted by " + strings.Join(by, ", ") + ")"
	}
	return d
}

// domainAllowed reports whether email is in an allowed domain and not marked unverified.
func (s *settings) domainAllowed(claims map[string]any, email string) bool {
	if len(s.AllowedDomains) == 0 || email == "" {
		return false
	}
	if v, ok := claims["email_verified"]; ok && !admin.Truthy(v) {
		return false
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 {
		return false
	}
	domain := email[at+1:]
	for _, d := range s.AllowedDomains {
		if strings.EqualFold(domain, strings.TrimPrefix(d, "@")) {
			return true
		}
	}
	return false
}

// hasRequired reports whether claims satisfy RequiredClaim.
func (s *settings) hasRequired(claims map[string]any) bool {
	v, ok := claimAt(claims, s.requiredName)
	if !ok {
		return false
	}
	if !s.hasRequiredValue {
		return admin.Truthy(v)
	}
	switch v := v.(type) {
	case string:
		return v == s.requiredValue
	case []any:
		for _, e := range v {
			if e == s.requiredValue {
				return true
			}
		}
	}
	return false
}
