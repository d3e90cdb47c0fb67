package admin

import "strings"

// Truthy reports whether a claim or header value grants a yes/no permission such as "is_admin".
// It is true only for the JSON boolean true and for the strings "1", "true", "yes" and "on"
// (trimmed, case-insensitive). Numbers, lists, objects and everything else are false, so a
// malformed or surprising claim fails closed: {"is_admin": ["true"]} does not make an admin.
//
// Auth backends share it so that every backend reads admin flags the same way.
func Truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "1", "true", "yes", "on":
			return true
		}
	}
	return false
}

// RolesFromClaim returns the roles a claim or header value names: a string is one role, a list
// of strings is one role per non-empty element. Any other shape — a mapping such as
// {"admin": false}, a number, a list holding non-strings — yields no roles rather than a guess,
// so a malformed claim fails closed. Roles are trimmed; empty ones are dropped.
func RolesFromClaim(v any) []string {
	switch v := v.(type) {
	case string:
		if r := strings.TrimSpace(v); r != "" {
			return []string{r}
		}
	case []string:
		return nonEmpty(v)
	case []any:
		roles := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				// One non-string element makes the whole claim suspect.
				return nil
			}
			if s = strings.TrimSpace(s); s != "" {
				roles = append(roles, s)
			}
		}
		if len(roles) > 0 {
			return roles
		}
	}
	return nil
}

func nonEmpty(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
