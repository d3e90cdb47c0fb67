package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// readStmts caches the read queries prepared on the read pool; database/sql prepares each on a
// connection the first time it runs there. Like the writer's, the cache holds a finite set of
// query shapes.
type readStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (b *Backend) rstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	b.reads.mu.Lock()
	st := b.reads.m[q]
	b.reads.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := b.r.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	b.reads.mu.Lock()
	defer b.reads.mu.Unlock()
	if prev := b.reads.m[q]; prev != nil {
		st.Close()
		return prev, nil
	}
	if b.reads.m == nil {
		b.reads.m = make(map[string]*sql.Stmt)
	}
	b.reads.m[q] = st
	return st, nil
}

// query runs a read query on the read pool.
func (b *Backend) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := b.rstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (b *Backend) queryRow(ctx context.Context, q string, args ...any) scanner {
	st, err := b.rstmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}
