package postgres

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/jackc/pgx/v5"
)

// PostgreSQL keeps no counter row (every transition would write it), so a count is a scan
// whose cost grows with the jobs counted, and OFFSET n steps over n index entries. For a queue
// of a million jobs that is hundreds of milliseconds of one core per count, tens per deep page.
// Large queues therefore get two short-lived caches, which small queues (and so the
// conformance suite) never use, keeping their counts and pages exact:
//
//   - counts: a queue whose last count reached bigCount jobs has its per-state counts served
//     from that count for countsFresh, or ten times as long as counting took, up to half of
//     countsLag (so that counting takes about a tenth of one core); after that the first
//     caller hands a recount to the Backend's refresher goroutine and every caller is still
//     served the cached counts, up to countsLag, after which they wait for that count (or
//     count themselves when no recount is under way). Queue settings are always read fresh.
//   - anchors: a page at an offset of at least anchorMinOffset in an unfiltered listing seeks
//     to the index key (created_at, id) found at that offset, kept for anchorFresh or ten times
//     as long as finding it took, up to half of anchorStale (then found again by the refresher
//     while callers use it, up to anchorStale, after which they wait for it), and reads its
//     rows live from there. Under concurrent change the page starts as many
//     positions early or late as jobs entered or left the state since, as an OFFSET page does
//     between two requests.
//
// No request pays for a refresh while the cached value may still be served: with 50 dashboard
// clients, the one that happened to find the value stale would otherwise wait the whole count.
const (
	bigCount        = 10_000
	countsFresh     = time.Second
	countsLag       = 10 * time.Second
	anchorMinOffset = 1_000
	anchorFresh     = 2 * time.Second
	anchorStale     = 10 * time.Second
	// maxAnchors bounds the anchors kept; when full, they are all dropped.
	maxAnchors = 1024
	// coldCounts bounds the callers counting a queue not counted before at once, so that 50
	// dashboard clients arriving together at a large queue count it a few times, not 50.
	coldCounts = 2
	// refreshQueue bounds the refreshes handed to the refresher and not yet started; when full,
	// a stale value is refreshed by a later caller.
	refreshQueue = 64
)

// plan is what a caller does with a cached value.
type plan int

const (
	// useCached: serve the cached value.
	useCached plan = iota
	// readNow: read the value now (having claimed the refresh, when the cache knows the key).
	readNow
	// refreshLater: serve the cached value, and have the refresher read it again; the caller
	// has claimed the refresh and must pass it on (or release it).
	refreshLater
)

// cachedCounts is the last count of one large queue. refresh is open while a caller counts
// it again; it is closed when that count is stored or given up.
type cachedCounts struct {
	// small marks a queue of fewer than bigCount jobs at its last count: always counted.
	small   bool
	counts  map[asyncmqtype.State]int
	at      time.Time
	fresh   time.Duration
	refresh chan struct{}
}

func (e *cachedCounts) finish() {
	if e.refresh != nil {
		close(e.refresh)
		e.refresh = nil
	}
}

// anchorKey names one page start of an unfiltered listing.
type anchorKey struct {
	queue  string
	state  asyncmqtype.State
	desc   bool
	offset int
}

// anchor is the index key of the job at a listing offset; ok is false when the offset was past
// the end or the key is still being found (at is then zero). refresh is as in cachedCounts.
type anchor struct {
	createdAt time.Time
	id        string
	ok        bool
	at        time.Time
	// took is how long finding it took (see anchorFresh).
	took    time.Duration
	refresh chan struct{}
}

func (a *anchor) finish() {
	if a.refresh != nil {
		close(a.refresh)
		a.refresh = nil
	}
}

// listCache holds both caches; its zero value is ready.
type listCache struct {
	mu      sync.Mutex
	counts  map[string]*cachedCounts
	anchors map[anchorKey]*anchor
	// cold holds a token per caller counting queues not counted before (see coldCounts).
	coldOnce sync.Once
	cold     chan struct{}
}

// coldStart reports whether counting name (nil: every queue) may count a large queue not
// counted before: name was never counted, or no queue was.
func (c *listCache) coldStart(name *string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name != nil {
		return c.counts[*name] == nil
	}
	return len(c.counts) == 0
}

// acquireCold takes a cold-count token, waiting for one (or ctx); release gives it back.
func (c *listCache) acquireCold(ctx context.Context) (release func(), err error) {
	c.coldOnce.Do(func() { c.cold = make(chan struct{}, coldCounts) })
	select {
	case c.cold <- struct{}{}:
		return func() { <-c.cold }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cachedQueues returns the queues with cached counts: all of them, or only *name if cached.
func (c *listCache) cachedQueues(name *string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name != nil {
		if e := c.counts[*name]; e != nil && !e.small {
			return []string{*name}
		}
		return nil
	}
	var out []string
	for q, e := range c.counts {
		if !e.small {
			out = append(out, q)
		}
	}
	return out
}

// countPlan says, for a queue, whether the caller may use the cached counts (returned) or
// must count it now, and whether it claimed a recount: for readNow on a cached queue and for
// refreshLater, ended with storeCounts or releaseCounts. Past countsLag, while another caller
// or the refresher counts, it waits for that count (or ctx).
func (c *listCache) countPlan(ctx context.Context, queue string) (map[asyncmqtype.State]int, plan, error) {
	for {
		c.mu.Lock()
		e := c.counts[queue]
		if e == nil || e.small {
			c.mu.Unlock()
			return nil, readNow, nil
		}
		age := time.Since(e.at)
		switch {
		case age < e.fresh || (age < countsLag && e.refresh != nil):
			counts := maps.Clone(e.counts)
			c.mu.Unlock()
			return counts, useCached, nil
		case e.refresh == nil && age < countsLag:
			e.refresh = make(chan struct{})
			counts := maps.Clone(e.counts)
			c.mu.Unlock()
			return counts, refreshLater, nil
		case e.refresh == nil:
			e.refresh = make(chan struct{})
			c.mu.Unlock()
			return nil, readNow, nil
		}
		wait := e.refresh
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, useCached, ctx.Err()
		}
	}
}

// storeCounts records the counts of a queue taken at at, which took so long: cached when the
// queue is large, forgotten otherwise. It ends any refresh under way.
func (c *listCache) storeCounts(queue string, counts map[asyncmqtype.State]int, at time.Time, took time.Duration) {
	total := 0
	for _, n := range counts {
		total += n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[string]*cachedCounts)
	}
	e := c.counts[queue]
	if total < bigCount {
		if e != nil {
			e.finish()
		}
		c.counts[queue] = &cachedCounts{small: true}
		return
	}
	if e == nil || e.small {
		e = &cachedCounts{}
		c.counts[queue] = e
	}
	if !e.at.After(at) {
		e.counts, e.at, e.fresh = maps.Clone(counts), at, min(max(countsFresh, 10*took), countsLag/2)
	}
	e.finish()
}

// releaseCounts ends the refreshes of queues whose count failed.
func (c *listCache) releaseCounts(queues []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range queues {
		if e := c.counts[q]; e != nil {
			e.finish()
		}
	}
}

// releaseAll ends every refresh under way or queued, when the Backend closes.
func (c *listCache) releaseAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.counts {
		e.finish()
	}
	for _, a := range c.anchors {
		a.finish()
	}
}

// forget drops what is cached of a queue, when it is obliterated.
func (c *listCache) forget(queue string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.counts[queue]; e != nil {
		e.finish()
		delete(c.counts, queue)
	}
	for k, a := range c.anchors {
		if k.queue == queue {
			a.finish()
			delete(c.anchors, k)
		}
	}
}

// anchorPlan returns the cached anchor for k with useCached or refreshLater, or readNow when
// the caller must find it. readNow and refreshLater claim the refresh, ended with storeAnchor or
// releaseAnchor. While another caller or the refresher finds an anchor that is missing or
// older than anchorStale, it waits for it (or ctx).
func (c *listCache) anchorPlan(ctx context.Context, k anchorKey) (anchor, plan, error) {
	for {
		c.mu.Lock()
		if c.anchors == nil || len(c.anchors) >= maxAnchors {
			for _, a := range c.anchors {
				a.finish()
			}
			c.anchors = make(map[anchorKey]*anchor)
		}
		a := c.anchors[k]
		if a == nil {
			c.anchors[k] = &anchor{refresh: make(chan struct{})}
			c.mu.Unlock()
			return anchor{}, readNow, nil
		}
		age := time.Since(a.at)
		switch {
		case age < min(max(anchorFresh, 10*a.took), anchorStale/2) || (age < anchorStale && a.refresh != nil):
			found := *a
			c.mu.Unlock()
			return found, useCached, nil
		case a.refresh == nil && age < anchorStale:
			a.refresh = make(chan struct{})
			found := *a
			c.mu.Unlock()
			return found, refreshLater, nil
		case a.refresh == nil:
			a.refresh = make(chan struct{})
			c.mu.Unlock()
			return anchor{}, readNow, nil
		}
		wait := a.refresh
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return anchor{}, useCached, ctx.Err()
		}
	}
}

// storeAnchor records the anchor found for k and ends its refresh.
func (c *listCache) storeAnchor(k anchorKey, found anchor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.anchors[k]
	if a == nil {
		a = &anchor{}
		c.anchors[k] = a
	}
	a.createdAt, a.id, a.ok, a.at, a.took = found.createdAt, found.id, found.ok, found.at, found.took
	a.finish()
}

// releaseAnchor ends the refresh of k after a failed lookup.
func (c *listCache) releaseAnchor(k anchorKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.anchors[k]; a != nil {
		a.finish()
	}
}

// refreshTimeout bounds one refresh run by the refresher.
const refreshTimeout = time.Minute

// refresh runs the refreshes of cached values handed to it (see later), one at a time, so
// that however many callers find values stale, at most one large count or anchor walk of this
// Backend runs in the background at once. It stops at Close.
func (b *Backend) refresh() {
	defer b.wg.Done()
	// Close ends the refresh under way, and releases those still queued.
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-base.Done():
		}
	}()
	for {
		select {
		case <-b.stop:
			b.lc.releaseAll()
			return
		case fn := <-b.refreshes:
			ctx, done := context.WithTimeout(base, refreshTimeout)
			fn(ctx)
			done()
		}
	}
}

// later hands fn to the refresher and reports whether it took it; it does not when its queue
// is full or the Backend is closing, and the caller then releases the refresh it claimed.
func (b *Backend) later(fn func(context.Context)) bool {
	if b.closed.Load() {
		return false
	}
	select {
	case b.refreshes <- fn:
		return true
	default:
		return false
	}
}

// recountLater has the refresher count queue again, whose refresh the caller claimed.
func (b *Backend) recountLater(queue string) {
	if !b.later(func(ctx context.Context) { b.recount(ctx, queue) }) {
		b.lc.releaseCounts([]string{queue})
	}
}

// recount counts a queue again and stores the counts, or releases the refresh it was handed.
func (b *Backend) recount(ctx context.Context, queue string) {
	defer b.lc.releaseCounts([]string{queue})
	now := time.Now()
	var out []asyncmqtype.QueueInfo
	// Without parallel workers: the count then takes one core for longer instead of every core
	// for a while, which would stall every request under way meanwhile.
	err := pgx.BeginTxFunc(ctx, b.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL max_parallel_workers_per_gather = 0`); err != nil {
			return err
		}
		var err error
		out, err = queryQueues(ctx, tx, &queue, nil)
		return err
	})
	if err != nil {
		if !b.closed.Load() {
			b.cfg.logger.WarnContext(ctx, "asyncmq postgres: recount a large queue", "queue", queue, "error", err)
		}
		return
	}
	for _, q := range out {
		b.lc.storeCounts(q.Name, q.Counts, now, time.Since(now))
	}
}
