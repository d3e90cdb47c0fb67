package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SQLStore is a Store on database/sql, for SQLite and PostgreSQL. Create it with OpenSQL or
// NewSQLStore. It is safe for concurrent use.
type SQLStore struct {
	db      *sql.DB
	owned   bool
	dialect Dialect
	m       Mapping
	q       queries
	getStmt *sql.Stmt
	now     func() time.Time
}

// Option configures a SQLStore.
type Option func(*storeOptions)

type storeOptions struct {
	mapping *Mapping
}

// WithMapping points the store at an application's own users table instead of the store's
// tables; migrations are then skipped. See Mapping.
func WithMapping(m Mapping) Option { return func(o *storeOptions) { o.mapping = &m } }

// OpenSQL opens the database with the named database/sql driver ("sqlite" for modernc.org/sqlite,
// "pgx" for PostgreSQL; the caller imports the driver) and returns a store on it, migrating the
// store's tables unless WithMapping is given. For SQLite, the DSN is a file path such as
// "asyncmq.db" (the queue's file is a fine choice), and a 5 s busy_timeout is added unless the DSN
// sets one, so that the store waits for the queue's writers instead of failing. Close closes the
// database.
func OpenSQL(ctx context.Context, driver, dsn string, opts ...Option) (*SQLStore, error) {
	d, err := DialectForDriver(driver)
	if err != nil {
		return nil, err
	}
	if d == SQLite {
		dsn = withSQLiteBusyTimeout(dsn)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open users database: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open users database: %w", err)
	}
	s, err := NewSQLStore(ctx, db, d, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

func withSQLiteBusyTimeout(dsn string) string {
	if strings.Contains(dsn, "busy_timeout") {
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "_pragma=busy_timeout(5000)"
}

// NewSQLStore returns a store on db, an open database of the given dialect, migrating the
// store's tables unless WithMapping is given; a mapping naming a table or column that does not
// exist is refused here. Close does not close db.
func NewSQLStore(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) (*SQLStore, error) {
	if err := dialect.valid(); err != nil {
		return nil, err
	}
	var o storeOptions
	for _, opt := range opts {
		opt(&o)
	}
	m := DefaultMapping()
	if o.mapping != nil {
		m = *o.mapping
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if o.mapping == nil {
		if err := migrate(ctx, db, dialect, componentUsers); err != nil {
			return nil, err
		}
	}
	s := &SQLStore{db: db, dialect: dialect, m: m, q: buildQueries(dialect, m), now: time.Now}
	// Get runs on every dashboard request; preparing it once saves SQLite a parse per request
	// (several times the cost of the lookup itself), and checks a Mapping against the real
	// tables now rather than at the first sign-in.
	var err error
	if s.getStmt, err = db.PrepareContext(ctx, s.q.get); err != nil {
		return nil, fmt.Errorf("prepare user lookup on %s: %w", m.Table, err)
	}
	return s, nil
}

// DB returns the store's database, for NewSessionStore on the same connection pool.
func (s *SQLStore) DB() *sql.DB { return s.db }

// Dialect returns the store's SQL dialect.
func (s *SQLStore) Dialect() Dialect { return s.dialect }

// Close releases the store's prepared statement, and closes the database if OpenSQL opened it.
func (s *SQLStore) Close() error {
	err := s.getStmt.Close()
	if s.owned {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

// queries are built once from the validated mapping; user input only ever travels as arguments.
type queries struct {
	cols          []string // selected user columns, in scan order
	get           string
	list          map[[2]bool]string // [hasAfter, hasLimit]
	insert        string
	insertCols    []string
	exists        string
	update        string
	updateCols    []string
	setActive     string
	setPassword   string
	deleteUser    string
	deleteRoles   string
	insertRole    string
	hasRoles      bool
	hasUpdatedAt  bool
	mappedByField map[string]string
}

func buildQueries(d Dialect, m Mapping) queries {
	q := queries{list: map[[2]bool]string{}, hasRoles: m.RolesTable != "",
		hasUpdatedAt: m.UpdatedAt != ""}
	q.mappedByField = map[string]string{
		"id": m.ID, "email": m.Email, "display_name": m.DisplayName, "active": m.Active, "admin": m.Admin,
		"password_hash": m.PasswordHash, "created_at": m.CreatedAt, "updated_at": m.UpdatedAt,
	}
	for _, f := range fieldOrder {
		if q.mappedByField[f] != "" {
			q.cols = append(q.cols, f)
		}
	}
	t, id := quote(m.Table), quote(m.ID)
	sel := make([]string, len(q.cols))
	for i, f := range q.cols {
		sel[i] = "u." + quote(q.mappedByField[f])
	}
	selList := strings.Join(sel, ", ")
	join, roleCol, roleOrder := "", ", NULL", ""
	if q.hasRoles {
		join = " LEFT JOIN " + quote(m.RolesTable) + " r ON r." + quote(m.RolesUserID) + " = u." + id
		roleCol = ", r." + quote(m.RolesRole)
		roleOrder = ", r." + quote(m.RolesRole)
	}
	q.get = d.rebind("SELECT " + selList + roleCol + " FROM " + t + " u" + join + " WHERE u." + id + " = ? ORDER BY u." + id + roleOrder)
	for _, after := range []bool{false, true} {
		for _, limit := range []bool{false, true} {
			inner := "SELECT * FROM " + t
			if after {
				inner += " WHERE " + id + " > ?"
			}
			inner += " ORDER BY " + id
			if limit {
				inner += " LIMIT ?"
			}
			q.list[[2]bool{after, limit}] = d.rebind("SELECT " + selList + roleCol + " FROM (" + inner + ") u" + join +
				" ORDER BY u." + id + roleOrder)
		}
	}
	for _, f := range []string{"id", "email", "display_name", "active", "admin", "created_at", "updated_at"} {
		if q.mappedByField[f] != "" {
			q.insertCols = append(q.insertCols, f)
		}
	}
	ins := make([]string, len(q.insertCols))
	for i, f := range q.insertCols {
		ins[i] = quote(q.mappedByField[f])
	}
	q.insert = d.rebind("INSERT INTO " + t + " (" + strings.Join(ins, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(ins)), ", ") + ") ON CONFLICT DO NOTHING")
	q.exists = d.rebind("SELECT 1 FROM " + t + " WHERE " + id + " = ?")
	var sets []string
	for _, f := range []string{"email", "display_name", "active", "admin", "updated_at"} {
		if q.mappedByField[f] != "" {
			q.updateCols = append(q.updateCols, f)
			sets = append(sets, quote(q.mappedByField[f])+" = ?")
		}
	}
	if len(sets) > 0 {
		q.update = d.rebind("UPDATE " + t + " SET " + strings.Join(sets, ", ") + " WHERE " + id + " = ?")
	}
	stamp := ""
	if q.hasUpdatedAt {
		stamp = ", " + quote(m.UpdatedAt) + " = ?"
	}
	if m.Active != "" {
		q.setActive = d.rebind("UPDATE " + t + " SET " + quote(m.Active) + " = ?" + stamp + " WHERE " + id + " = ?")
	}
	if m.PasswordHash != "" {
		q.setPassword = d.rebind("UPDATE " + t + " SET " + quote(m.PasswordHash) + " = ?" + stamp + " WHERE " + id + " = ?")
	}
	q.deleteUser = d.rebind("DELETE FROM " + t + " WHERE " + id + " = ?")
	if q.hasRoles {
		rt, ru, rr := quote(m.RolesTable), quote(m.RolesUserID), quote(m.RolesRole)
		q.deleteRoles = d.rebind("DELETE FROM " + rt + " WHERE " + ru + " = ?")
		q.insertRole = d.rebind("INSERT INTO " + rt + " (" + ru + ", " + rr + ") VALUES (?, ?)")
	}
	return q
}

var fieldOrder = []string{"id", "email", "display_name", "active", "admin", "password_hash", "created_at", "updated_at"}

// idArg converts id to the query argument for the ID column. ok is false when the mapping has a
// numeric ID column and id is not an integer: no such user can exist.
func (s *SQLStore) idArg(id string) (arg any, ok bool) {
	if !s.m.NumericID {
		return id, true
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, false
	}
	return n, true
}

func (s *SQLStore) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func notFound(id string) error { return fmt.Errorf("user %q: %w", id, ErrUserNotFound) }

// Get returns the user with the given ID, or an error wrapping ErrUserNotFound. It is one query
// (the roles are joined), which is what dbauth and passwordauth pay per request.
func (s *SQLStore) Get(ctx context.Context, id string) (*User, error) {
	arg, ok := s.idArg(id)
	if !ok {
		return nil, fmt.Errorf("get user: %w", notFound(id))
	}
	us, err := s.queryStmt(ctx, s.getStmt, arg)
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", id, err)
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("get user: %w", notFound(id))
	}
	return us[0], nil
}

// List returns users in ID order.
func (s *SQLStore) List(ctx context.Context, p ListParams) ([]*User, error) {
	if p.Limit < 0 {
		return nil, fmt.Errorf("list users: negative limit %d", p.Limit)
	}
	var args []any
	if p.After != "" {
		arg, ok := s.idArg(p.After)
		if !ok {
			return nil, fmt.Errorf("list users: after %q is not a numeric ID", p.After)
		}
		args = append(args, arg)
	}
	if p.Limit > 0 {
		args = append(args, p.Limit)
	}
	us, err := s.query(ctx, s.q.list[[2]bool{p.After != "", p.Limit > 0}], args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// queryStmt and query run a user select, prepared or not, and fold the joined role rows into
// users, keeping row order (scanUsers).
func (s *SQLStore) queryStmt(ctx context.Context, st *sql.Stmt, args ...any) ([]*User, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return s.scanUsers(rows)
}

func (s *SQLStore) query(ctx context.Context, query string, args ...any) ([]*User, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return s.scanUsers(rows)
}

func (s *SQLStore) scanUsers(rows *sql.Rows) ([]*User, error) {
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u := &User{Active: s.m.Active == ""}
		dest := make([]any, 0, len(s.q.cols)+1)
		for _, f := range s.q.cols {
			switch f {
			case "id":
				dest = append(dest, nullString{&u.ID})
			case "email":
				dest = append(dest, nullString{&u.Email})
			case "display_name":
				dest = append(dest, nullString{&u.DisplayName})
			case "active":
				dest = append(dest, boolScanner{&u.Active})
			case "admin":
				dest = append(dest, boolScanner{&u.Admin})
			case "password_hash":
				dest = append(dest, nullString{&u.PasswordHash})
			case "created_at":
				dest = append(dest, timeScanner{&u.CreatedAt})
			case "updated_at":
				dest = append(dest, timeScanner{&u.UpdatedAt})
			}
		}
		var role sql.NullString
		dest = append(dest, &role)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == u.ID {
			u = out[n-1]
		} else {
			out = append(out, u)
		}
		if role.Valid {
			u.Roles = append(u.Roles, role.String)
		}
	}
	return out, rows.Err()
}

// checkMapped refuses a write whose value the mapping has no column for, rather than dropping it.
func (s *SQLStore) checkMapped(u User) error {
	switch {
	case u.Email != "" && s.m.Email == "":
		return fmt.Errorf("email: %w", ErrNotMapped)
	case u.DisplayName != "" && s.m.DisplayName == "":
		return fmt.Errorf("display name: %w", ErrNotMapped)
	case !u.Active && s.m.Active == "":
		return fmt.Errorf("inactive user: active: %w", ErrNotMapped)
	case u.Admin && s.m.Admin == "":
		return fmt.Errorf("admin: %w", ErrNotMapped)
	case len(u.Roles) > 0 && !s.q.hasRoles:
		return fmt.Errorf("roles: %w", ErrNotMapped)
	}
	return nil
}

func (s *SQLStore) fieldArg(u *User, f string, id any) any {
	switch f {
	case "id":
		return id
	case "email":
		return u.Email
	case "display_name":
		return u.DisplayName
	case "active":
		return u.Active
	case "admin":
		return u.Admin
	case "created_at":
		return s.dialect.timeArg(u.CreatedAt)
	case "updated_at":
		return s.dialect.timeArg(u.UpdatedAt)
	}
	panic("users: unknown field " + f)
}

// Create adds u and returns it as stored.
func (s *SQLStore) Create(ctx context.Context, u User) (*User, error) {
	u, err := normalize(u)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	if err := s.checkMapped(u); err != nil {
		return nil, fmt.Errorf("create user %q: %w", u.ID, err)
	}
	id, ok := s.idArg(u.ID)
	if !ok {
		return nil, fmt.Errorf("create user %q: the ID column is numeric", u.ID)
	}
	u.PasswordHash = ""
	u.CreatedAt = s.clock()
	u.UpdatedAt = u.CreatedAt
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		args := make([]any, len(s.q.insertCols))
		for i, f := range s.q.insertCols {
			args[i] = s.fieldArg(&u, f, id)
		}
		res, err := tx.ExecContext(ctx, s.q.insert, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// ON CONFLICT DO NOTHING hides which constraint matched; only the ID is ours to name.
			var one int
			if err := tx.QueryRowContext(ctx, s.q.exists, id).Scan(&one); err == nil {
				return ErrUserExists
			}
			return errors.New("the row conflicts with an existing one (a unique column other than the ID)")
		}
		return s.insertRoles(ctx, tx, id, u.Roles)
	})
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", u.ID, err)
	}
	return &u, nil
}

func (s *SQLStore) insertRoles(ctx context.Context, tx *sql.Tx, id any, roles []string) error {
	for _, r := range roles {
		if _, err := tx.ExecContext(ctx, s.q.insertRole, id, r); err != nil {
			return fmt.Errorf("add role %q: %w", r, err)
		}
	}
	return nil
}

// Update replaces the email, display name, flags and roles of the user with u.ID.
func (s *SQLStore) Update(ctx context.Context, u User) (*User, error) {
	u, err := normalize(u)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if err := s.checkMapped(u); err != nil {
		return nil, fmt.Errorf("update user %q: %w", u.ID, err)
	}
	id, ok := s.idArg(u.ID)
	if !ok {
		return nil, fmt.Errorf("update user: %w", notFound(u.ID))
	}
	u.UpdatedAt = s.clock()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if s.q.update == "" {
			var one int
			if err := tx.QueryRowContext(ctx, s.q.exists, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return notFound(u.ID)
			} else if err != nil {
				return err
			}
		} else {
			args := make([]any, 0, len(s.q.updateCols)+1)
			for _, f := range s.q.updateCols {
				args = append(args, s.fieldArg(&u, f, id))
			}
			if err := execOne(ctx, tx, s.q.update, append(args, id)...); err != nil {
				return err
			}
		}
		if !s.q.hasRoles {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteRoles, id); err != nil {
			return fmt.Errorf("clear roles: %w", err)
		}
		return s.insertRoles(ctx, tx, id, u.Roles)
	})
	if err != nil {
		return nil, fmt.Errorf("update user %q: %w", u.ID, err)
	}
	return s.Get(ctx, u.ID)
}

// SetActive enables or disables a user.
func (s *SQLStore) SetActive(ctx context.Context, id string, active bool) error {
	if s.q.setActive == "" {
		return fmt.Errorf("set user %q active: %w", id, ErrNotMapped)
	}
	if err := s.setColumn(ctx, s.q.setActive, id, active); err != nil {
		return fmt.Errorf("set user %q active=%t: %w", id, active, err)
	}
	return nil
}

// setColumn runs query, a one-column UPDATE of user id, with value, stamping the updated-at
// column when the table has one. An ID that cannot exist in the table is not found.
func (s *SQLStore) setColumn(ctx context.Context, query, id string, value any) error {
	arg, ok := s.idArg(id)
	if !ok {
		return notFound(id)
	}
	args := []any{value}
	if s.q.hasUpdatedAt {
		args = append(args, s.dialect.timeArg(s.clock()))
	}
	return execOne(ctx, s.db, query, append(args, arg)...)
}

// SetPassword stores passwordHash (from HashPassword, or a bcrypt hash); "" removes the password.
func (s *SQLStore) SetPassword(ctx context.Context, id, passwordHash string) error {
	if s.q.setPassword == "" {
		return fmt.Errorf("set password of user %q: %w", id, ErrNotMapped)
	}
	if passwordHash != "" {
		if err := ValidateHash(passwordHash); err != nil {
			// Never echo the value: it may be a plain-text password passed by mistake.
			return fmt.Errorf("set password of user %q: %w", id, err)
		}
	}
	if err := s.setColumn(ctx, s.q.setPassword, id, passwordHash); err != nil {
		return fmt.Errorf("set password of user %q: %w", id, err)
	}
	return nil
}

// Remove deletes a user and its roles.
func (s *SQLStore) Remove(ctx context.Context, id string) error {
	arg, ok := s.idArg(id)
	if !ok {
		return fmt.Errorf("remove user: %w", notFound(id))
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Roles first and explicitly: SQLite enforces ON DELETE CASCADE only with foreign_keys on,
		// which is a per-connection setting we do not control.
		if s.q.hasRoles {
			if _, err := tx.ExecContext(ctx, s.q.deleteRoles, arg); err != nil {
				return fmt.Errorf("delete roles: %w", err)
			}
		}
		return execOne(ctx, tx, s.q.deleteUser, arg)
	})
	if err != nil {
		return fmt.Errorf("remove user %q: %w", id, err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execOne runs a statement on one user's row and reports ErrUserNotFound when it touched none.
func execOne(ctx context.Context, e execer, query string, args ...any) error {
	res, err := e.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrUserNotFound
	}
	return nil
}

func (s *SQLStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
