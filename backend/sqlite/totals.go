package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// A filtered listing (Task, ID or Text) has no counter to give its Total: it is counted by
// reading every job of the state, about a microsecond per job, so a second of one core for a
// state of a million jobs. Fifty dashboard clients looking at one task's jobs would each pay
// that. The Totals of large states are therefore kept in a small cache, which states below
// bigFiltered jobs (and so the conformance suite) never use:
//
//   - A Total is served as long as the queue is unchanged: its counters and the newest event
//     are what they were when it was counted. Every transition of a job writes one or the
//     other, so an unchanged queue has the same matching jobs.
//   - Once the queue changed, the cached Total is still served, up to totalStale after it was
//     counted, while one recount runs in the background, at most once per totalRefresh or ten
//     times as long as counting took (so recounting takes at most a tenth of a core per
//     filter). Past totalStale, callers wait for a count.
//   - Callers that need the same count at the same time share one, made in the read transaction
//     of the first of them.
const (
	bigFiltered  = 10_000
	totalRefresh = time.Second
	totalStale   = 30 * time.Second
	// maxTotals bounds the filters kept; when full, they are all dropped.
	maxTotals = 256
)

// queueVersion identifies a state of a queue's jobs: its counters and its newest event.
type queueVersion struct {
	counts    [numStates]int
	lastEvent int64
}

// cachedTotal is the Total of one filter, counted at version.
type cachedTotal struct {
	total     int
	version   queueVersion
	countedAt time.Time
	// took is how long the count took; refreshing is set while a recount runs.
	took       time.Duration
	refreshing bool
}

// totalCache holds the Totals of filtered listings of large states.
type totalCache struct {
	mu     sync.Mutex
	m      map[string]*cachedTotal
	flight singleflight.Group
	// counts is the number of counts made, for tests.
	counts int
	// ctx is the context of the counts, which no one caller owns; Close cancels it and waits
	// for them (wg).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closed is set by close, under mu: no recount starts after it.
	closed bool
}

func (t *totalCache) init() { t.ctx, t.cancel = context.WithCancel(context.Background()) }

// close stops the counts under way and waits for them.
func (t *totalCache) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
}

// filterKey names a filtered listing's Total; its parts are the where clause's arguments.
func filterKey(args []any) string {
	var sb strings.Builder
	for _, a := range args {
		s := fmt.Sprint(a)
		fmt.Fprintf(&sb, "%d:%s|", len(s), s)
	}
	return sb.String()
}

const qLastEvent = `SELECT coalesce(max(id), 0) FROM asyncmq_events`

// filteredTotal returns the Total of a filtered listing, counted by qCount with args, of a
// queue whose counters are counts, in a state of n jobs; row runs a query (qCount or
// qLastEvent) in the listing's read transaction.
func (b *Backend) filteredTotal(ctx context.Context, row func(q string, args ...any) *sql.Row, qCount string, args []any, counts [numStates]int, n int) (int, error) {
	if n < bigFiltered {
		var total int
		if err := row(qCount, args...).Scan(&total); err != nil {
			return 0, fmt.Errorf("count jobs: %w", err)
		}
		return total, nil
	}
	ver := queueVersion{counts: counts}
	if err := row(qLastEvent).Scan(&ver.lastEvent); err != nil {
		return 0, fmt.Errorf("read the newest event: %w", err)
	}
	// The key names the columns searched as well as the values: a task and an ID filter on the
	// same text count different jobs.
	key := qCount + "\x00" + filterKey(args)
	t := &b.totals
	t.mu.Lock()
	e := t.m[key]
	switch {
	case e != nil && e.version == ver:
		total := e.total
		t.mu.Unlock()
		return total, nil
	case e != nil && time.Since(e.countedAt) < totalStale:
		total := e.total
		if !e.refreshing && !t.closed && time.Since(e.countedAt) >= max(totalRefresh, 10*e.took) {
			e.refreshing = true
			t.wg.Go(func() {
				// A failed recount leaves the cached Total; the next caller tries again.
				_ = b.countTotal(key, qCount, args)
			})
		}
		t.mu.Unlock()
		return total, nil
	}
	t.mu.Unlock()
	// The count runs in the caller's read transaction: waiting for another connection while
	// holding one could deadlock the pool when every connection is held by a listing.
	count := func() (any, error) {
		start := time.Now()
		var total int
		if err := row(qCount, args...).Scan(&total); err != nil {
			return 0, fmt.Errorf("count jobs: %w", err)
		}
		t.store(key, total, ver, start)
		return total, nil
	}
	v, err, shared := t.flight.Do(key, count)
	if err != nil && shared && ctx.Err() == nil {
		// The caller that counted for everyone gave up; count for this one.
		v, err = count()
	}
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// store caches the Total of key, counted from start at version ver.
func (t *totalCache) store(key string, total int, ver queueVersion, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts++
	if t.m == nil || len(t.m) >= maxTotals {
		t.m = make(map[string]*cachedTotal)
	}
	t.m[key] = &cachedTotal{total: total, version: ver, countedAt: start, took: time.Since(start)}
}

// countTotal counts the jobs of a filter again, in the background: in a read transaction of
// its own, with the queue's version at that moment, and caches the result. It runs in the
// cache's context, which Close cancels.
func (b *Backend) countTotal(key, qCount string, args []any) error {
	start := time.Now()
	total, ver, err := b.countWithVersion(b.totals.ctx, qCount, args)
	if err != nil {
		t := &b.totals
		t.mu.Lock()
		if e := t.m[key]; e != nil {
			e.refreshing = false
		}
		t.mu.Unlock()
		return fmt.Errorf("count jobs: %w", err)
	}
	b.totals.store(key, total, ver, start)
	return nil
}

func (b *Backend) countWithVersion(ctx context.Context, qCount string, args []any) (int, queueVersion, error) {
	var ver queueVersion
	tx, err := b.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, ver, err
	}
	defer tx.Rollback()
	// A queue deleted since the listing read it counts as empty.
	if ver.counts, err = scanCounts(tx.QueryRowContext(ctx, qQueueCounts, args[0])); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, ver, err
	}
	if err := tx.QueryRowContext(ctx, qLastEvent).Scan(&ver.lastEvent); err != nil {
		return 0, ver, err
	}
	var total int
	if err := tx.QueryRowContext(ctx, qCount, args...).Scan(&total); err != nil {
		return 0, ver, err
	}
	return total, ver, nil
}
