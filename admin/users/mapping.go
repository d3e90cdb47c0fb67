package users

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Mapping points the SQL store at an application's own users table. Each field names a column of
// Table; an empty optional field means the table has no such column: an unmapped Active column
// makes every user active, an unmapped Admin column makes nobody an admin, and writes that need an
// unmapped column fail with ErrNotMapped.
//
// Names must be plain SQL identifiers (letters, digits and underscores, not starting with a
// digit, at most 63 bytes); Table and RolesTable may be schema-qualified ("auth.users"). They are
// quoted in every statement, so they are case-sensitive: PostgreSQL folds unquoted names to lower
// case, so write them in lower case unless the table was created with quoted names.
//
// With a custom mapping the store runs no migrations: the tables are the application's.
type Mapping struct {
	// Table is the users table. Required.
	Table string
	// ID is the user ID column, the value of the JWT "sub" claim or the login username. Required.
	ID string
	// NumericID says the ID column is an integer. An ID that is not a decimal integer is then
	// "not found" without a query, instead of a database type error.
	NumericID bool

	Email        string
	DisplayName  string
	Active       string
	Admin        string
	PasswordHash string
	CreatedAt    string
	UpdatedAt    string

	// RolesTable holds one row per (user, role), with RolesUserID referencing the ID column and
	// RolesRole naming the role. Set all three or none; none means users have no roles.
	RolesTable  string
	RolesUserID string
	RolesRole   string
}

// DefaultMapping is the store's own schema, created and migrated by the store.
func DefaultMapping() Mapping {
	return Mapping{
		Table: "asyncmq_users", ID: "id", Email: "email", DisplayName: "display_name",
		Active: "active", Admin: "admin", PasswordHash: "password_hash",
		CreatedAt: "created_at", UpdatedAt: "updated_at",
		RolesTable: "asyncmq_user_roles", RolesUserID: "user_id", RolesRole: "role",
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate reports the first name that is missing or is not a plain identifier. Nothing from a
// Mapping reaches SQL unless Validate accepts it.
func (m Mapping) Validate() error {
	if m.Table == "" || m.ID == "" {
		return errors.New("users mapping: Table and ID are required")
	}
	if err := validateQualified("Table", m.Table); err != nil {
		return err
	}
	cols := []struct{ field, name string }{
		{"ID", m.ID}, {"Email", m.Email}, {"DisplayName", m.DisplayName}, {"Active", m.Active},
		{"Admin", m.Admin}, {"PasswordHash", m.PasswordHash}, {"CreatedAt", m.CreatedAt},
		{"UpdatedAt", m.UpdatedAt}, {"RolesUserID", m.RolesUserID}, {"RolesRole", m.RolesRole},
	}
	for _, c := range cols {
		if c.name != "" && !identRE.MatchString(c.name) {
			return fmt.Errorf("users mapping: %s %q is not a plain SQL identifier", c.field, c.name)
		}
	}
	set := 0
	for _, s := range []string{m.RolesTable, m.RolesUserID, m.RolesRole} {
		if s != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return errors.New("users mapping: set all of RolesTable, RolesUserID and RolesRole, or none")
	}
	if m.RolesTable != "" {
		return validateQualified("RolesTable", m.RolesTable)
	}
	return nil
}

func validateQualified(field, name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("users mapping: %s %q has more than one dot", field, name)
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return fmt.Errorf("users mapping: %s %q is not a plain SQL identifier", field, name)
		}
	}
	return nil
}

// quote quotes a validated, possibly schema-qualified identifier. Both dialects accept double
// quotes, and quoting lets a column be called "user" or "admin" (reserved in PostgreSQL).
func quote(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, ".")
}
