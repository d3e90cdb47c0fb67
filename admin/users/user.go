package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrUserNotFound is returned (wrapped, naming the ID) when no user has the requested ID.
var ErrUserNotFound = errors.New("user not found")

// ErrUserExists is returned (wrapped, naming the ID) by Create when the ID is taken.
var ErrUserExists = errors.New("user already exists")

// ErrNotMapped is returned (wrapped) by a write that needs a column the store's Mapping leaves
// out, such as SetActive on a table without an active column.
var ErrNotMapped = errors.New("column not mapped")

// Limits on user fields; longer values are refused with a clear error.
const (
	MaxIDLen          = 255
	MaxEmailLen       = 254
	MaxDisplayNameLen = 255
	MaxRoleLen        = 64
)

// User is a dashboard user as the store holds it.
type User struct {
	// ID is the stable identifier: the JWT "sub" for dbauth, the username for passwordauth.
	ID string
	// Email is optional.
	Email string
	// DisplayName is optional; Name falls back to Email, then ID.
	DisplayName string
	// Active users may sign in; an inactive user is refused on the next request.
	Active bool
	// Admin grants the dashboard's admin role.
	Admin bool
	// Roles are application roles, sorted and without duplicates.
	Roles []string
	// PasswordHash is a PHC-format argon2id hash or a bcrypt hash, or empty when the user cannot
	// sign in with a password. Set it with Store.SetPassword and a hash from HashPassword.
	PasswordHash string
	// CreatedAt and UpdatedAt are set by the store, in UTC.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Name returns the name to show for the user: DisplayName, else Email, else ID.
func (u *User) Name() string {
	switch {
	case u.DisplayName != "":
		return u.DisplayName
	case u.Email != "":
		return u.Email
	}
	return u.ID
}

// ListParams selects a page of users in ID order.
type ListParams struct {
	// After lists users whose ID sorts after this one; "" starts at the beginning.
	After string
	// Limit caps the page size; 0 lists every remaining user.
	Limit int
}

// Store holds dashboard users. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the user with the given ID, or an error wrapping ErrUserNotFound.
	Get(ctx context.Context, id string) (*User, error)
	// List returns users in ID order.
	List(ctx context.Context, p ListParams) ([]*User, error)
	// Create adds u and returns it as stored. It wraps ErrUserExists when the ID is taken.
	// CreatedAt, UpdatedAt and PasswordHash of u are ignored: set a password with SetPassword.
	Create(ctx context.Context, u User) (*User, error)
	// Update replaces the email, display name, active and admin flags and roles of the user with
	// u.ID, and returns it as stored. The password hash is left alone.
	Update(ctx context.Context, u User) (*User, error)
	// SetActive enables or disables a user. A disabled user keeps its data but cannot sign in.
	SetActive(ctx context.Context, id string, active bool) error
	// SetPassword stores passwordHash, a hash from HashPassword (or a bcrypt hash); "" removes
	// the password. A value that is not a supported hash is refused, so a plain-text password is
	// never stored by mistake.
	SetPassword(ctx context.Context, id, passwordHash string) error
	// Remove deletes a user and its roles. Removing an unknown user wraps ErrUserNotFound.
	Remove(ctx context.Context, id string) error
}

// ValidateID reports whether id is usable as a user ID: non-empty, valid UTF-8, at most
// MaxIDLen bytes, without control characters or surrounding spaces.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("user ID is empty")
	}
	if strings.TrimSpace(id) != id {
		return fmt.Errorf("user ID %q has leading or trailing spaces", id)
	}
	return validateText("user ID", id, MaxIDLen)
}

func validateText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes, longer than the limit of %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q contains a control character", what, s)
		}
	}
	return nil
}

// normalize validates u and returns it with sorted, de-duplicated, trimmed roles.
func normalize(u User) (User, error) {
	if err := ValidateID(u.ID); err != nil {
		return u, err
	}
	if err := validateText("email", u.Email, MaxEmailLen); err != nil {
		return u, err
	}
	if err := validateText("display name", u.DisplayName, MaxDisplayNameLen); err != nil {
		return u, err
	}
	roles, err := normalizeRoles(u.Roles)
	if err != nil {
		return u, err
	}
	u.Roles = roles
	return u, nil
}

func normalizeRoles(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, r := range in {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if err := validateText("role", r, MaxRoleLen); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
