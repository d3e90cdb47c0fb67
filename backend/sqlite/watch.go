package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// watcher carries the writes of other Backends and processes into Subscribe's signals. SQLite
// has no notification between processes, but PRAGMA data_version changes on a connection when
// another connection committed. While the Backend has subscribers, one goroutine polls it and,
// when it changed, reads the new events and signals the queues where a job became waiting or
// that were resumed: the same transitions a Backend signals for its own writes.
type watcher struct {
	mu      sync.Mutex
	subs    int
	running bool
	stop    chan struct{}
	wg      sync.WaitGroup
	// own lists the ranges of event IDs this Backend wrote since the goroutine last looked: it
	// signalled them itself already. active tells writers whether to record them.
	own    [][2]int64
	active atomic.Bool
	// kick wakes the goroutine when the last subscriber leaves, so it ends at once.
	kick chan struct{}
}

// wrote records the IDs of events this Backend is committing, so the watcher does not signal
// them again, and reports whether it did (only while the watcher runs).
func (b *Backend) wrote(ids [2]int64) bool {
	if !b.watch.active.Load() {
		return false
	}
	b.watch.mu.Lock()
	b.watch.own = append(b.watch.own, ids)
	b.watch.mu.Unlock()
	return true
}

// unwrote forgets the IDs of a commit that failed: another connection may use them.
func (b *Backend) unwrote(ids [2]int64) {
	b.watch.mu.Lock()
	b.watch.own = slices.DeleteFunc(b.watch.own, func(r [2]int64) bool { return r == ids })
	b.watch.mu.Unlock()
}

const (
	qWatchLast   = `SELECT coalesce(max(id), 0) FROM asyncmq_events`
	qWatchQueues = `SELECT id, queue FROM asyncmq_events WHERE id > ?1 AND id <= ?2
	AND ((job_id != '' AND state = 'waiting') OR (type = ?3 AND detail = 'resumed'))`
)

// Subscribe returns a channel signalled when queue may have runnable jobs; see backend.Notifier.
// Signals come from the transactions of this Backend, sent after they commit, and, within a few
// milliseconds, from those of other Backends and processes sharing the file.
func (b *Backend) Subscribe(queue string) (<-chan struct{}, func()) {
	c, cancel := b.signals.Subscribe(queue)
	b.watchAdd(1)
	var once sync.Once
	return c, func() {
		once.Do(func() {
			cancel()
			b.watchAdd(-1)
		})
	}
}

// AcrossProcesses reports whether writes through other Backends and processes sharing the file
// are signalled too, by polling PRAGMA data_version while there are subscribers: true unless
// WatchInterval(0) turned it off.
func (b *Backend) AcrossProcesses() bool { return b.cfg.watchInterval > 0 }

// watchAdd counts subscribers and starts the watching goroutine when the first one arrives. The
// goroutine ends by itself once there are none.
//
// The newest event at the first subscription is read before Subscribe returns, so a commit made
// right after it is signalled even if the goroutine takes a while to start.
func (b *Backend) watchAdd(n int) {
	w := &b.watch
	if b.cfg.watchInterval <= 0 {
		return
	}
	last := int64(-1)
	w.mu.Lock()
	starting := n > 0 && !w.running
	w.mu.Unlock()
	if starting {
		if err := b.queryRow(context.Background(), qWatchLast).Scan(&last); err != nil {
			last = -1
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs += n
	if w.subs == 0 && w.running {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	if w.subs > 0 && !w.running && !b.closed.Load() {
		w.running = true
		w.active.Store(true)
		w.wg.Add(1)
		go b.watchLoop(last)
	}
}

// watchIdle reports, and records, that the watching goroutine is to end.
func (b *Backend) watchIdle() bool {
	w := &b.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs > 0 && !b.closed.Load() {
		return false
	}
	w.running = false
	w.active.Store(false)
	w.own = nil
	return true
}

// stopWatch ends the watching goroutine, for Close.
func (b *Backend) stopWatch() {
	b.watch.mu.Lock()
	close(b.watch.stop)
	b.watch.mu.Unlock()
	b.watch.wg.Wait()
}

// watchLoop watches for commits until there are no subscribers; last is the newest event
// already accounted for, or -1 to take the newest when it starts.
func (b *Backend) watchLoop(last int64) {
	defer b.watch.wg.Done()
	ctx := context.Background()
	// A connection of its own: data_version is per connection, and the read pool's connections
	// serve the queries.
	db, err := sql.Open("sqlite", dsn(b.path, b.cfg, true))
	if err != nil {
		b.cfg.logger.Warn("sqlite: cannot watch for writes of other processes", "path", b.path, "err", err)
		b.watchFailed()
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	pragma, err := db.PrepareContext(ctx, "PRAGMA data_version")
	if err != nil {
		b.watchFailed()
		return
	}
	defer pragma.Close()
	// The version is read before the events: a commit after it changes the version, and one
	// before it, since last, is found by the first read.
	var version int64
	if err := pragma.QueryRowContext(ctx).Scan(&version); err != nil {
		b.watchFailed()
		return
	}
	if last < 0 {
		if err := db.QueryRowContext(ctx, qWatchLast).Scan(&last); err != nil {
			b.watchFailed()
			return
		}
	} else {
		last = b.signalSince(ctx, db, last)
	}
	// On Linux a write to the log wakes the loop. A commit writes the log before it becomes
	// visible (the wal-index is updated after), so after a write the loop polls at the watch
	// interval, and goes on doing so while commits keep coming, until walHotWindow has passed
	// without one; only then does it ask inotify for the next write. Idle, it also polls every
	// walFallbackPoll, a safety net for file systems without inotify events. Elsewhere it polls
	// at the interval.
	idle := b.cfg.watchInterval
	var (
		wal <-chan struct{}
		ww  *walWatch
	)
	if ww, err = newWALWatch(b.path); err == nil {
		defer ww.close()
		wal = ww.changed
		idle = max(idle, walFallbackPoll)
	} else {
		ww = nil
		b.cfg.logger.Debug("sqlite: polling for writes of other processes", "path", b.path, "every", idle, "reason", err)
	}
	var hotUntil time.Time
	hot := false
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		if b.watchIdle() {
			return
		}
		select {
		case <-b.watch.stop:
			b.watchIdle()
			return
		case <-b.watch.kick:
			continue
		case <-timer.C:
		case <-wal:
			hot, hotUntil = true, time.Now().Add(walHotWindow)
		}
		var v int64
		err := pragma.QueryRowContext(ctx).Scan(&v)
		changed := err == nil && v != version
		if changed && ww != nil {
			hot, hotUntil = true, time.Now().Add(walHotWindow)
		}
		next := idle
		if hot && time.Now().Before(hotUntil) {
			next = b.cfg.watchInterval
		} else if hot {
			hot = false
			ww.rearm()
		}
		timer.Reset(next)
		if !changed {
			continue
		}
		version = v
		last = b.signalSince(ctx, db, last)
	}
}

// walHotWindow is how long after a write to the log the watcher keeps polling at the watch
// interval: long enough for a commit's wal-index update to follow its log write.
const walHotWindow = 50 * time.Millisecond

// walFallbackPoll is how often a watcher woken by the log's inotify events still polls, in case
// the file system drops them.
const walFallbackPoll = 250 * time.Millisecond

// signalSince signals the queues of the events after last and returns the newest event's ID.
func (b *Backend) signalSince(ctx context.Context, db *sql.DB, last int64) int64 {
	var newest int64
	if err := db.QueryRowContext(ctx, qWatchLast).Scan(&newest); err != nil || newest <= last {
		return max(last, newest)
	}
	// Events this Backend wrote were signalled when they committed; their IDs were recorded
	// before the commit, and are forgotten once read.
	b.watch.mu.Lock()
	own := b.watch.own
	b.watch.own = slices.DeleteFunc(slices.Clone(own), func(r [2]int64) bool { return r[1] <= newest })
	b.watch.mu.Unlock()
	if covered(own, last+1, newest) {
		// Only this Backend wrote: the usual case of a single process, which costs no read.
		return newest
	}
	rows, err := db.QueryContext(ctx, qWatchQueues, last, newest, string(asyncmqtype.EventQueue))
	if err != nil {
		return last
	}
	defer rows.Close()
	var signalled []string
	for rows.Next() {
		var (
			id int64
			q  string
		)
		if rows.Scan(&id, &q) != nil || slices.Contains(signalled, q) ||
			slices.ContainsFunc(own, func(r [2]int64) bool { return r[0] <= id && id <= r[1] }) {
			continue
		}
		signalled = append(signalled, q)
		b.signals.Notify(q)
	}
	if rows.Err() != nil {
		return last
	}
	return newest
}

// covered reports whether the ranges cover every ID from first to last. Ranges come in the
// order of their commits, so in increasing order.
func covered(ranges [][2]int64, first, last int64) bool {
	next := first
	for _, r := range ranges {
		if r[0] > next {
			break
		}
		next = max(next, r[1]+1)
	}
	return next > last
}

// watchFailed ends a goroutine that could not start; the next subscriber tries again.
func (b *Backend) watchFailed() {
	b.watch.mu.Lock()
	b.watch.running = false
	b.watch.active.Store(false)
	b.watch.own = nil
	b.watch.mu.Unlock()
}
