package sqlite

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Deep pages of an unfiltered listing are read from anchors: SQLite has no way to skip to an
// offset, so OFFSET 100,000 steps over 100,000 index entries on every request. An anchor is the
// index key (created_at, id) of every K-th job of one queue and state, counted from one end of
// the listing; a page then seeks to the nearest anchor before it and steps over fewer than K
// entries. Anchors are found by one walk over the covering index, as far as a request needs,
// and kept for a short time: under concurrent change a page's offset is approximate by the
// number of jobs that entered or left the state since, as an OFFSET page is between two
// requests, while the rows shown are always live rows of the state, read in the page's
// transaction.
const (
	// defaultAnchorStep is K, the number of positions between two anchors.
	defaultAnchorStep = 128
	// defaultAnchorTTL bounds how old the anchors a page starts from may be.
	defaultAnchorTTL = 2 * time.Second
	// defaultAnchorDrift is how many jobs may enter or leave a state before its anchors are
	// dropped: a page may start that many positions early or late.
	defaultAnchorDrift = 100
	// defaultAnchorListings bounds the number of listings with anchors, least recently used
	// first out; each holds at most one anchor per K jobs of its state.
	defaultAnchorListings = 32
)

// listing is one filter-free listing of a queue's jobs in one state, counted from its oldest
// job (asc) or its newest (desc).
type listing struct {
	queue string
	state asyncmqtype.State
	desc  bool
}

// dir indexes the [2]string query pairs below: 0 walks from the oldest job, 1 from the newest.
func (k listing) dir() int {
	if k.desc {
		return 1
	}
	return 0
}

// indexKey is a job's position in the listing index after its queue and state.
type indexKey struct {
	createdAt int64
	id        string
}

// anchors are the keys of every K-th job of one listing.
type anchors struct {
	key   listing
	built time.Time
	// size is the state's job count when the walk started, drift the jobs that this Backend
	// has since moved into or out of the state. Both are guarded by the cache's mu.
	size  int
	drift int
	elem  *list.Element

	// walk is held by the one page that walks the index further. Pages that find it held do
	// not wait: they start from stale's anchors when those reach far enough, else they are read
	// with an offset meanwhile, which costs them far less than the walk does.
	walk sync.Mutex
	// stale are the keys of the anchors these replaced when those expired by age alone (their
	// drift was still within bounds). Set at creation and never changed, so they are read
	// without a lock; they stand in only while a walk is under way, which keeps the pages that
	// arrive during a rebuild from all paying for an offset scan at once.
	stale []indexKey
	// mu guards keys and end.
	mu sync.Mutex
	// keys[i] is the key of the job at position (i+1)*K-1.
	keys []indexKey
	// end reports that the walk reached the listing's end: there are no more anchors.
	end bool
}

// anchorCache holds the anchors of the most recently listed listings of a Backend.
type anchorCache struct {
	step, drift, capacity int
	ttl                   time.Duration
	now                   func() time.Time

	mu    sync.Mutex
	lists map[listing]*anchors
	lru   list.List // of *anchors, most recently used first
}

func newAnchorCache() *anchorCache {
	return &anchorCache{
		step: defaultAnchorStep, drift: defaultAnchorDrift, capacity: defaultAnchorListings,
		ttl: defaultAnchorTTL, now: time.Now,
		lists: make(map[listing]*anchors),
	}
}

// get returns the anchors of k for a state that now holds size jobs, starting afresh when
// they are missing, expired or have drifted.
func (c *anchorCache) get(k listing, size int) *anchors {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var stale []indexKey
	if a := c.lists[k]; a != nil {
		inBounds := a.drift <= c.drift && abs(size-a.size) <= c.drift
		if inBounds && now.Sub(a.built) < c.ttl {
			c.lru.MoveToFront(a.elem)
			return a
		}
		if inBounds {
			a.mu.Lock()
			stale = a.keys[:len(a.keys):len(a.keys)]
			a.mu.Unlock()
		}
		c.remove(a)
	}
	a := &anchors{key: k, built: now, size: size, stale: stale}
	a.elem = c.lru.PushFront(a)
	c.lists[k] = a
	for c.lru.Len() > c.capacity {
		c.remove(c.lru.Back().Value.(*anchors))
	}
	return a
}

func (c *anchorCache) remove(a *anchors) {
	c.lru.Remove(a.elem)
	delete(c.lists, a.key)
}

// moved records the counter deltas of a committed write transaction: the anchors of the
// states it changed drift by the number of jobs that entered or left them.
func (c *anchorCache) moved(counts map[string]*[numStates]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lists) == 0 {
		return
	}
	for q, d := range counts {
		for _, s := range asyncmqtype.States {
			i := stateIndex(s)
			if d[i] == 0 {
				continue
			}
			for _, desc := range []bool{false, true} {
				a := c.lists[listing{q, s, desc}]
				if a == nil {
					continue
				}
				a.drift += int(abs(d[i]))
				if a.drift > c.drift {
					c.remove(a)
				}
			}
		}
	}
}

func abs[T int | int64](n T) T {
	if n < 0 {
		return -n
	}
	return n
}

// The anchor walk and the anchored page, in both directions. They are bounded by a row value
// from below (or above) only, which makes each one seek into the listing index: a scan that is
// also bounded by queue and state compares every entry it steps over with that bound too, which
// costs several times more (see planPage). So the walk checks the queue and state of the key it
// lands on, and listJobs the rows of the page.
var (
	qAnchorFirst = [2]string{
		`SELECT queue, state, created_at, id FROM asyncmq_jobs WHERE (queue, state) >= (?, ?) ORDER BY queue, state, created_at, id LIMIT 1 OFFSET ?`,
		`SELECT queue, state, created_at, id FROM asyncmq_jobs WHERE (queue, state) <= (?, ?) ORDER BY queue DESC, state DESC, created_at DESC, id DESC LIMIT 1 OFFSET ?`,
	}
	qAnchorNext = [2]string{
		`SELECT queue, state, created_at, id FROM asyncmq_jobs WHERE (queue, state, created_at, id) > (?, ?, ?, ?) ORDER BY queue, state, created_at, id LIMIT 1 OFFSET ?`,
		`SELECT queue, state, created_at, id FROM asyncmq_jobs WHERE (queue, state, created_at, id) < (?, ?, ?, ?) ORDER BY queue DESC, state DESC, created_at DESC, id DESC LIMIT 1 OFFSET ?`,
	}
	qAnchoredPage = [2]string{
		`SELECT seq FROM asyncmq_jobs WHERE (queue, state, created_at, id) > (?, ?, ?, ?) ORDER BY queue, state, created_at, id LIMIT ? OFFSET ?`,
		`SELECT seq FROM asyncmq_jobs WHERE (queue, state, created_at, id) < (?, ?, ?, ?) ORDER BY queue DESC, state DESC, created_at DESC, id DESC LIMIT ? OFFSET ?`,
	}
)

// anchorQueries are the statements anchoredPage may run, prepared before its transaction,
// besides the page reads of qAnchoredPage.
var anchorQueries = []string{qAnchorFirst[0], qAnchorFirst[1], qAnchorNext[0], qAnchorNext[1]}

// anchoredPage plans the page p of a state that holds n jobs from the anchors nearest to it,
// walking the listing index in tx as far as needed. It reports false when the page is nearer
// than K to both ends of the listing, where an OFFSET scan is as cheap, or when the listing
// has become shorter than its anchors expected.
func (b *Backend) anchoredPage(ctx context.Context, stmt func(string) *sql.Stmt, p asyncmqtype.ListJobsParams, n int) (pageScan, bool, error) {
	c := b.anchors
	// The page is counted from the nearer end.
	lo, hi := pageRange(p, n)
	k := listing{queue: p.Filter.Queue, state: p.Filter.State}
	dist := lo
	if n-hi < lo {
		k.desc, dist = true, n-hi
	}
	m := dist / c.step
	if m == 0 {
		return pageScan{}, false, nil
	}
	a := c.get(k, n)
	key, ok, err := a.at(ctx, stmt, c.step, m-1)
	if err != nil || !ok {
		return pageScan{}, false, err
	}
	return pageScan{qAnchoredPage[k.dir()], []any{k.queue, string(k.state), key.createdAt, key.id, hi - lo, dist % c.step}}, true, nil
}

// at returns anchor i, walking the index from the last anchor known when it is not known
// yet. It reports false when the listing ends before anchor i, or when another page is walking
// and no stale anchor i is at hand.
func (a *anchors) at(ctx context.Context, stmt func(string) *sql.Stmt, step, i int) (indexKey, bool, error) {
	if key, ok, done := a.known(i); done {
		return key, ok, nil
	}
	if !a.walk.TryLock() {
		if i < len(a.stale) {
			return a.stale[i], true, nil
		}
		return indexKey{}, false, nil
	}
	defer a.walk.Unlock()
	dir := a.key.dir()
	for {
		key, ok, done := a.known(i)
		if done {
			return key, ok, nil
		}
		var row *sql.Row
		a.mu.Lock()
		n := len(a.keys)
		var last indexKey
		if n > 0 {
			last = a.keys[n-1]
		}
		a.mu.Unlock()
		if n == 0 {
			row = stmt(qAnchorFirst[dir]).QueryRowContext(ctx, a.key.queue, string(a.key.state), step-1)
		} else {
			row = stmt(qAnchorNext[dir]).QueryRowContext(ctx, a.key.queue, string(a.key.state), last.createdAt, last.id, step-1)
		}
		var queue, state string
		var next indexKey
		err := row.Scan(&queue, &state, &next.createdAt, &next.id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return indexKey{}, false, err
		}
		a.mu.Lock()
		if err != nil || queue != a.key.queue || state != string(a.key.state) {
			a.end = true
		} else {
			a.keys = append(a.keys, next)
		}
		a.mu.Unlock()
	}
}

// known returns anchor i if it is known; done is false when the walk must go on to find it.
func (a *anchors) known(i int) (key indexKey, ok, done bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case i < len(a.keys):
		return a.keys[i], true, true
	case a.end:
		return indexKey{}, false, true
	}
	return indexKey{}, false, false
}
