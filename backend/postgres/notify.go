package postgres

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// qNotify sends one notification per queue of $2 on channel $1; PostgreSQL delivers them when
// the transaction commits and drops repeats within one transaction.
const qNotify = `SELECT count(pg_notify($1, q)) FROM unnest($2::text[]) AS q`

// payloadSep separates the sending Backend's id from the queue in a notification's payload; a
// payload without it (from EnqueueTx) is a queue name alone. Queue names hold no control
// character.
const payloadSep = "\x1f"

// Notifications leave a store's own transactions after they commit, from one goroutine per
// Backend, rather than inside them: PostgreSQL serialises the commits of every transaction that
// notifies (a database-wide lock held through the commit's disk flush), so a NOTIFY in each
// enqueue would make concurrent enqueues wait for each other's flushes. The sender coalesces:
// while one NOTIFY statement is on its way, the queues signalled meanwhile wait for the next, so
// a busy process sends about one per round trip and an idle one sends at once. A process that
// dies between a commit and its NOTIFY costs the other processes one poll interval.
// Transactional enqueue (EnqueueTx) is the exception: only the caller knows when it commits, so
// it notifies inside the caller's transaction.

// wake signals this process's subscribers of queues at once and has the sender notify the other
// processes. Call it after the transaction that made jobs runnable committed.
func (n *notifier) wake(queues ...string) {
	if len(queues) == 0 {
		return
	}
	n.mu.Lock()
	for _, q := range queues {
		for ch := range n.subs[q] {
			signal(ch)
		}
		n.pending[q] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// send runs until stop closes, sending the pending notifications.
func (n *notifier) send(stop <-chan struct{}) {
	defer n.b.wg.Done()
	for {
		select {
		case <-stop:
			return
		case <-n.kick:
		}
		n.mu.Lock()
		queues := make([]string, 0, len(n.pending))
		for q := range n.pending {
			queues = append(queues, n.id+payloadSep+q)
		}
		clear(n.pending)
		n.mu.Unlock()
		if len(queues) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := n.b.pool.Exec(ctx, qNotify, n.b.channel(), queues); err != nil && !n.b.closed.Load() {
			n.b.cfg.logger.DebugContext(ctx, "asyncmq postgres: notify other processes; they will poll", "queues", queues, "error", err)
		}
		cancel()
	}
}

// channel is the LISTEN/NOTIFY channel of the store's schema: the payload is a queue name.
func (b *Backend) channel() string { return "asyncmq:" + b.schema }

// Subscribe returns a channel that receives a signal when queue may have runnable jobs: jobs
// were enqueued, promoted, retried, released or unblocked, or the queue was resumed, by this
// process or by any other process using the store. Signals are coalesced: the channel holds at
// most one, so a burst of enqueues wakes a subscriber once, and a slow subscriber never blocks
// the store. Call the returned function to unsubscribe.
//
// Signals from other processes travel by LISTEN/NOTIFY on one dedicated connection per Backend,
// opened at the first Subscribe and reopened (with backoff) when it breaks; after a reconnect
// every subscriber is signalled, since notifications sent meanwhile are lost. Behind a
// transaction-mode connection pooler (PgBouncer's pool_mode=transaction) LISTEN does not work:
// signals then come from this process only, and workers find other processes' jobs by polling.
func (b *Backend) Subscribe(queue string) (<-chan struct{}, func()) {
	return b.notifier.subscribe(queue)
}

// firstListenWait bounds how long the first Subscribe waits for the listener to connect.
const firstListenWait = 2 * time.Second

type notifier struct {
	b   *Backend
	cfg *pgx.ConnConfig

	mu      sync.Mutex
	subs    map[string]map[chan struct{}]struct{}
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
	// ready is closed once the first LISTEN succeeded or failed.
	ready     chan struct{}
	readyOnce sync.Once
	// connected is set once the listener has connected for the first time; only its goroutine
	// touches it.
	connected bool

	// id marks the notifications this Backend sends, so its listener skips them.
	id string
	// pending holds the queues whose NOTIFY the sender has yet to send; kick wakes the sender.
	pending map[string]struct{}
	kick    chan struct{}
}

func newNotifier(b *Backend, cfg *pgx.ConnConfig) *notifier {
	return &notifier{b: b, cfg: cfg.Copy(), subs: map[string]map[chan struct{}]struct{}{},
		done: make(chan struct{}), ready: make(chan struct{}),
		pending: map[string]struct{}{}, kick: make(chan struct{}, 1), id: rand.Text()[:12]}
}

func (n *notifier) subscribe(queue string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.subs[queue] == nil {
		n.subs[queue] = map[chan struct{}]struct{}{}
	}
	n.subs[queue][ch] = struct{}{}
	if !n.started && !n.b.closed.Load() {
		n.started = true
		ctx, cancel := context.WithCancel(context.Background())
		n.cancel = cancel
		go n.listen(ctx)
	}
	started := n.cancel != nil
	n.mu.Unlock()
	// Subscribe returns once the LISTEN is in place, so a job another process enqueues right after
	// is signalled; a server that does not answer delays it by at most firstListenWait, after
	// which workers poll until the listener connects.
	if started {
		select {
		case <-n.ready:
		case <-time.After(firstListenWait):
		}
	}
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.subs[queue], ch)
		if len(n.subs[queue]) == 0 {
			delete(n.subs, queue)
		}
	}
}

// local signals the subscribers of queue.
func (n *notifier) local(queue string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs[queue] {
		signal(ch)
	}
}

func (n *notifier) all() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, chans := range n.subs {
		for ch := range chans {
			signal(ch)
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (n *notifier) close() {
	n.mu.Lock()
	started := n.started
	n.started = true // no listener may start after Close
	if n.cancel != nil {
		n.cancel()
	}
	n.mu.Unlock()
	if started {
		<-n.done
	}
}

// listen keeps one LISTEN connection open until ctx ends, reconnecting with backoff.
func (n *notifier) listen(ctx context.Context) {
	defer close(n.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listenOnce(ctx, func() { backoff = 100 * time.Millisecond })
		n.readyOnce.Do(func() { close(n.ready) })
		if ctx.Err() != nil {
			return
		}
		n.b.cfg.logger.Warn("asyncmq postgres listener lost its connection; reconnecting", "url", n.b.url, "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (n *notifier) listenOnce(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, n.cfg)
	if err != nil {
		return describe(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{n.b.channel()}.Sanitize()); err != nil {
		return err
	}
	// Whatever was notified while the connection was down is lost: let everyone look. Not on the
	// first connection, which only misses what was sent between Subscribe and LISTEN: workers
	// claim when they start and poll anyway, and a signal then would reach queues that had none.
	if n.connected {
		n.all()
	}
	n.connected = true
	connected()
	n.readyOnce.Do(func() { close(n.ready) })
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		// The sender has signalled this process's own subscribers already.
		if from, queue, ok := strings.Cut(note.Payload, payloadSep); !ok {
			n.local(note.Payload)
		} else if from != n.id {
			n.local(queue)
		}
	}
}
