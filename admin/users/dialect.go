package users

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect names the SQL flavour of a database.
type Dialect string

// The supported dialects.
const (
	// SQLite is modernc.org/sqlite (driver name "sqlite").
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL through pgx's database/sql driver (driver name "pgx").
	Postgres Dialect = "postgres"
)

// DialectForDriver returns the dialect of a database/sql driver name: "sqlite" or "sqlite3" for
// SQLite, "pgx" or "postgres" for PostgreSQL.
func DialectForDriver(driver string) (Dialect, error) {
	switch driver {
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "pgx", "postgres", "postgresql":
		return Postgres, nil
	}
	return "", fmt.Errorf("unsupported database driver %q: use \"sqlite\" or \"pgx\"", driver)
}

func (d Dialect) valid() error {
	if d != SQLite && d != Postgres {
		return fmt.Errorf("unsupported dialect %q: use users.SQLite or users.Postgres", string(d))
	}
	return nil
}

// rebind turns the ? placeholders of q into $1, $2, ... for PostgreSQL. Queries built here never
// contain a literal "?", so a plain scan is enough.
func (d Dialect) rebind(q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// sqliteTimeLayout sorts as text and is understood by SQLite's date functions.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// timeArg converts t to the value the dialect stores: a timestamptz for PostgreSQL, fixed-width
// UTC text for SQLite (whose driver would otherwise pick its own format).
func (d Dialect) timeArg(t time.Time) any {
	if d == SQLite {
		return t.UTC().Format(sqliteTimeLayout)
	}
	return t.UTC()
}

// timeScanner reads a timestamp stored as time.Time, text or Unix seconds, which covers our own
// columns and the usual shapes of an application's created_at.
type timeScanner struct{ t *time.Time }

var timeLayouts = []string{sqliteTimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999", "2006-01-02"}

func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = v.UTC()
	case int64:
		*s.t = time.Unix(v, 0).UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("scan timestamp: unsupported type %T", src)
	}
	return nil
}

func (s timeScanner) parse(v string) error {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			*s.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("scan timestamp: cannot parse %q", v)
}

// nullString reads a possibly NULL text column of an application table as "".
type nullString struct{ s *string }

func (n nullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = v
	case []byte:
		*n.s = string(v)
	case int64:
		*n.s = strconv.FormatInt(v, 10)
	default:
		*n.s = fmt.Sprint(v)
	}
	return nil
}

// boolScanner reads a boolean stored as a bool, an integer or text ("t", "true", "1"); NULL is
// false.
type boolScanner struct{ b *bool }

func (n boolScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.b = false
	case bool:
		*n.b = v
	case int64:
		*n.b = v != 0
	case string:
		return n.parse(v)
	case []byte:
		return n.parse(string(v))
	default:
		return fmt.Errorf("scan boolean: unsupported type %T", src)
	}
	return nil
}

func (n boolScanner) parse(v string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("scan boolean: cannot parse %q", v)
	}
	*n.b = b
	return nil
}
