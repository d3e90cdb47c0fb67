package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// sessionsTable holds admin sessions; the name keeps it apart from the queue's tables.
const sessionsTable = "asyncmq_admin_sessions"

// SessionStore is an scs session store (scs.Store, scs.CtxStore, scs.IterableStore and
// scs.IterableCtxStore) on a database/sql connection, so dashboard sessions survive restarts and
// are shared by every process serving the dashboard. Expired sessions are never returned, and a
// background goroutine deletes them; Close stops it.
type SessionStore struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	now     func() time.Time

	find, commit, del, all, expire string

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// SessionStoreOption configures a SessionStore.
type SessionStoreOption func(*sessionStoreOptions)

type sessionStoreOptions struct {
	cleanup time.Duration
	log     *slog.Logger
}

// SessionCleanupInterval sets how often expired sessions are deleted; the default is 5 minutes,
// and 0 turns the background cleanup off (call DeleteExpired yourself).
func SessionCleanupInterval(d time.Duration) SessionStoreOption {
	return func(o *sessionStoreOptions) { o.cleanup = d }
}

// SessionLogger sets the logger for background cleanup failures; the default is slog.Default().
func SessionLogger(l *slog.Logger) SessionStoreOption {
	return func(o *sessionStoreOptions) { o.log = l }
}

// NewSessionStore creates the session table on db if needed (its own versioned migration) and
// returns a store on it. Pass it to an scs.SessionManager's Store field.
func NewSessionStore(ctx context.Context, db *sql.DB, dialect Dialect, opts ...SessionStoreOption) (*SessionStore, error) {
	if err := dialect.valid(); err != nil {
		return nil, err
	}
	o := sessionStoreOptions{cleanup: 5 * time.Minute, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cleanup < 0 {
		return nil, fmt.Errorf("session cleanup interval %v is negative", o.cleanup)
	}
	if err := migrate(ctx, db, dialect, componentSessions); err != nil {
		return nil, err
	}
	s := &SessionStore{
		db: db, dialect: dialect, log: o.log, now: time.Now,
		find: dialect.rebind("SELECT data FROM " + sessionsTable + " WHERE token = ? AND expiry > ?"),
		commit: dialect.rebind("INSERT INTO " + sessionsTable + " (token, data, expiry) VALUES (?, ?, ?) " +
			"ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry"),
		del:    dialect.rebind("DELETE FROM " + sessionsTable + " WHERE token = ?"),
		all:    dialect.rebind("SELECT token, data FROM " + sessionsTable + " WHERE expiry > ?"),
		expire: dialect.rebind("DELETE FROM " + sessionsTable + " WHERE expiry <= ?"),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if o.cleanup > 0 {
		go s.cleanup(o.cleanup)
	} else {
		close(s.done)
	}
	return s, nil
}

func (s *SessionStore) nowMicro() int64 { return s.now().UnixMicro() }

// FindCtx returns the data of an unexpired session; found is false for an unknown or expired
// token.
func (s *SessionStore) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	err = s.db.QueryRowContext(ctx, s.find, token, s.nowMicro()).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return b, true, nil
}

// CommitCtx stores the session data under token until expiry, replacing any earlier data.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.commit, token, b, expiry.UnixMicro()); err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx deletes the session; deleting an unknown token is not an error.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if _, err := s.db.ExecContext(ctx, s.del, token); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// AllCtx returns every unexpired session by token, so an administrator can list or end sessions.
func (s *SessionStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, s.all, s.nowMicro())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var token string
		var b []byte
		if err := rows.Scan(&token, &b); err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out[token] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// Find is FindCtx without a context, for scs.Store.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context, for scs.Store.
func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context, for scs.Store.
func (s *SessionStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// All is AllCtx without a context, for scs.IterableStore.
func (s *SessionStore) All() (map[string][]byte, error) { return s.AllCtx(context.Background()) }

// DeleteExpired deletes the sessions that have expired and returns how many it deleted.
func (s *SessionStore) DeleteExpired(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.expire, s.nowMicro())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

func (s *SessionStore) cleanup(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if _, err := s.DeleteExpired(ctx); err != nil {
				s.log.Error("asyncmq: delete expired admin sessions", "err", err)
			}
			cancel()
		}
	}
}

// Close stops the background cleanup and waits for it to finish. It does not close the database.
func (s *SessionStore) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
