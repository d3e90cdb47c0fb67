package asyncmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// abandonAfter is how long a shutdown waits, after cancelling the handlers still running at the
// end of the grace period, before it releases their jobs anyway. A handler that ignores its
// context keeps running, but its outcome is no longer stored.
const abandonAfter = time.Second

// Worker claims jobs from its queues and runs them with a Handler. Create it with NewWorker and
// start it with Run. A Worker runs once: after Run returns, make a new one.
type Worker struct {
	b      Store
	h      Handler
	cfg    WorkerConfig
	log    *slog.Logger
	id     string
	queues []string
	now    func() time.Time

	hostname    string
	concurrency int // summed over the queues

	fetchers  []*fetcher
	completer *completer
	leader    *leadership
	startedAt time.Time

	mu      sync.Mutex
	running map[string]*runningJob // jobs whose lease the worker holds, by ID

	badRepeatables map[string]bool // invalid definitions already logged; maintenance goroutine only

	started atomic.Bool
	// unusable is the store error that stopped the worker (see storeUnusable); Run returns it.
	unusable atomic.Pointer[error]
	stopOnce sync.Once
	stop     chan struct{} // closed by Shutdown
	stopCtx  context.Context
	done     chan struct{} // closed when Run returns

	base       context.Context // for backend calls; ends when Run returns
	jobsCtx    context.Context // parent of handler contexts; cancelled when the grace ends
	cancelJobs context.CancelCauseFunc
	jobs       sync.WaitGroup
}

// runningJob is a job the worker holds a lease on: from the claim until its outcome is stored or
// it is released.
type runningJob struct {
	lease  backend.Lease
	queue  string
	cancel context.CancelCauseFunc
	// leaseUntil is, on this process's monotonic clock, a time by which the lease has certainly
	// not yet expired in the store: the start of the claim or of the last heartbeat that extended
	// it, plus LeaseDuration minus a margin. Guarded by Worker.mu.
	leaseUntil time.Time
}

// leaseMargin is the part of LeaseDuration not trusted when the worker reckons how long a lease
// holds, for clock rates and the store's own processing time.
func (w *Worker) leaseMargin() time.Duration { return w.cfg.LeaseDuration / 10 }

// NewWorker returns a worker that runs the jobs of cfg.Queues in b with h (usually a *ServeMux).
// An invalid configuration is an error naming the field.
func NewWorker(b Store, h Handler, cfg WorkerConfig) (*Worker, error) {
	if b == nil {
		return nil, fmt.Errorf("new worker: nil backend: %w", asyncmqtype.ErrInvalid)
	}
	if h == nil {
		return nil, fmt.Errorf("new worker: nil handler: %w", asyncmqtype.ErrInvalid)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new worker: %w", err)
	}
	w := &Worker{
		b:       b,
		h:       h,
		cfg:     cfg,
		id:      cfg.WorkerID,
		queues:  slices.Sorted(maps.Keys(cfg.Queues)),
		now:     func() time.Time { return time.Now().UTC() },
		running: make(map[string]*runningJob),

		badRepeatables: make(map[string]bool),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	w.hostname, _ = os.Hostname()
	for _, n := range cfg.Queues {
		w.concurrency += n
	}
	if w.id == "" {
		w.id = defaultWorkerID(w.hostname)
	}
	w.log = cfg.Logger.With(slog.String("worker_id", w.id))
	lanes := 1
	if l, ok := b.(backend.ClaimLaner); ok {
		lanes = max(1, l.ClaimLanes())
	}
	for _, q := range w.queues {
		// The queue's slots are split among its fetchers as evenly as they go; a queue with fewer
		// slots than lanes gets one fetcher per slot.
		n := cfg.Queues[q]
		k := min(lanes, n)
		for i := range k {
			slots := n / k
			if i < n%k {
				slots++
			}
			w.fetchers = append(w.fetchers, newFetcher(w, q, slots))
		}
	}
	w.completer = newCompleter(w)
	w.leader = newLeadership(cfg.LeaseDuration)
	return w, nil
}

func defaultWorkerID(host string) string {
	if host == "" {
		host = "worker"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// ID returns the worker's ID, as shown in the store's worker list.
func (w *Worker) ID() string { return w.id }

// Run registers the worker, claims and runs jobs until ctx is cancelled or Shutdown is called,
// then shuts down gracefully (see WorkerConfig.ShutdownTimeout) and returns nil. A store that
// cannot take the registration yet (an outage, a full disk) is retried until ctx is cancelled or
// Shutdown is called; Run returns an error if it gives up then, if the store is closed or
// unusable, or if Run was already called.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return fmt.Errorf("run worker %q: already started", w.id)
	}
	defer close(w.done)

	var cancelBase context.CancelFunc
	w.base, cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	w.jobsCtx, w.cancelJobs = context.WithCancelCause(w.base)
	defer w.cancelJobs(ErrWorkerShutdown)
	w.startedAt = w.now()

	if err := w.register(ctx); err != nil {
		return fmt.Errorf("run worker %q: register with the backend: %w", w.id, err)
	}
	w.log.Info("worker started", slog.String("queues", formatQueues(w.cfg.Queues)))

	fetchCtx, stopFetching := context.WithCancel(w.base)
	defer stopFetching()
	var loops sync.WaitGroup
	for _, f := range w.fetchers {
		loops.Go(func() { f.run(fetchCtx) })
	}
	loops.Go(func() { w.maintain(fetchCtx) })
	completerDone := make(chan struct{})
	go func() { w.completer.run(); close(completerDone) }()
	heartbeatCtx, stopHeartbeat := context.WithCancel(w.base)
	defer stopHeartbeat()
	heartbeatDone := make(chan struct{})
	go func() { w.heartbeatLoop(heartbeatCtx); close(heartbeatDone) }()

	select {
	case <-ctx.Done():
	case <-w.stop:
	}
	w.log.Info("worker shutting down", slog.Duration("grace", w.cfg.ShutdownTimeout))

	stopFetching()
	loops.Wait()
	w.awaitJobs()
	w.completer.close()
	<-completerDone
	w.releaseHeld()
	stopHeartbeat()
	<-heartbeatDone

	rctx, cancel := context.WithTimeout(w.base, 5*time.Second)
	defer cancel()
	if err := w.b.RemoveWorker(rctx, w.id); err != nil {
		w.log.Warn("remove worker record", slog.Any("error", err))
	}
	if p := w.unusable.Load(); p != nil {
		w.log.Error("worker stopped: the store is unusable", slog.Any("error", *p))
		return fmt.Errorf("run worker %q: %w", w.id, *p)
	}
	w.log.Info("worker stopped")
	return nil
}

// register sends the first heartbeat. A store that is briefly unable to write (a full disk, a
// restarting server, a network blip) is retried with backoff, 100 ms doubling to 5 s, so a worker
// started during an outage comes up when the store does instead of exiting; each failure is
// logged. Errors that retrying cannot fix are returned at once: a closed store, an unusable
// store, an invalid worker record. Cancelling ctx or calling Shutdown gives up with the last
// error.
func (w *Worker) register(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		err := w.heartbeat()
		if err == nil || !retryableRegistration(err) {
			return err
		}
		w.log.Warn("worker not registered yet; retrying", slog.Duration("in", delay), slog.Any("error", err))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-w.stop:
			t.Stop()
			return fmt.Errorf("%w (gave up: worker shut down)", err)
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// retryableRegistration reports whether a failed first heartbeat may succeed later.
func retryableRegistration(err error) bool {
	return !errors.Is(err, asyncmqtype.ErrClosed) && !errors.Is(err, asyncmqtype.ErrStoreUnusable) &&
		!errors.Is(err, asyncmqtype.ErrInvalid) && !errors.Is(err, context.Canceled)
}

// storeUnusable reports whether err says the store can no longer be used
// (asyncmqtype.ErrStoreUnusable: a replaced or damaged SQLite file). The first such error stops
// the worker at once, without a grace period: no outcome can be stored any more, and working on
// would only run jobs whose results are lost. Run then returns the error.
func (w *Worker) storeUnusable(err error) bool {
	if err == nil || !errors.Is(err, asyncmqtype.ErrStoreUnusable) {
		return false
	}
	if w.unusable.CompareAndSwap(nil, &err) {
		w.log.Error("store unusable; stopping the worker", slog.Any("error", err))
		w.stopOnce.Do(func() {
			// A done context ends the grace period at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			w.mu.Lock()
			w.stopCtx = ctx
			w.mu.Unlock()
			close(w.stop)
		})
	}
	return true
}

// Shutdown stops the worker gracefully, as cancelling Run's context does, and waits until Run
// has returned. The grace period for running jobs ends at ShutdownTimeout or when ctx is done,
// whichever comes first; Shutdown returns ctx.Err() if ctx ends before Run returns.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.stopCtx = ctx
		w.mu.Unlock()
		close(w.stop)
	})
	if !w.started.Load() {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// awaitJobs waits for running handlers through the grace period, then cancels the rest and gives
// them abandonAfter to return.
func (w *Worker) awaitJobs() {
	idle := make(chan struct{})
	go func() { w.jobs.Wait(); close(idle) }()

	w.mu.Lock()
	stopCtx := w.stopCtx
	w.mu.Unlock()
	var stopDone <-chan struct{}
	if stopCtx != nil {
		stopDone = stopCtx.Done()
	}
	grace := time.NewTimer(w.cfg.ShutdownTimeout)
	defer grace.Stop()
	select {
	case <-idle:
		return
	case <-grace.C:
	case <-stopDone:
	}
	w.mu.Lock()
	n := len(w.running)
	w.mu.Unlock()
	w.log.Warn("grace period over; cancelling running jobs", slog.Int("jobs", n))
	w.cancelJobs(ErrWorkerShutdown)
	select {
	case <-idle:
	case <-time.After(abandonAfter):
		w.log.Error("handlers ignored cancellation; releasing their jobs while they still run")
	}
}

// releaseHeld returns every job the worker still holds to waiting, for another worker.
func (w *Worker) releaseHeld() {
	w.mu.Lock()
	leases := make([]backend.Lease, 0, len(w.running))
	for id, rj := range w.running {
		leases = append(leases, rj.lease)
		delete(w.running, id)
	}
	w.mu.Unlock()
	if len(leases) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(w.base, 5*time.Second)
	defer cancel()
	err := w.b.Release(ctx, backend.ReleaseParams{Leases: leases})
	if err != nil {
		// The leases expire on their own and stalled recovery requeues the jobs.
		w.log.Error("release jobs at shutdown", slog.Int("jobs", len(leases)), slog.Any("error", err))
	} else {
		w.log.Info("released jobs at shutdown", slog.Int("jobs", len(leases)))
	}
	w.emit(WorkerEvent{Kind: WorkerReleased, Count: len(leases), Err: err})
}

// track records a claimed job as held and returns its handler context.
func (w *Worker) track(j *asyncmqtype.JobInfo, queue string, claimStart time.Time) (context.Context, *runningJob) {
	ctx, cancel := context.WithCancelCause(w.jobsCtx)
	rj := &runningJob{lease: backend.Lease{JobID: j.ID, LeaseToken: j.LeaseToken}, queue: queue, cancel: cancel,
		leaseUntil: claimStart.Add(w.cfg.LeaseDuration - w.leaseMargin())}
	w.mu.Lock()
	w.running[j.ID] = rj
	w.mu.Unlock()
	return ctx, rj
}

// forget drops a job from the held set, unless the set already holds a newer claim of it.
func (w *Worker) forget(rj *runningJob) {
	w.mu.Lock()
	if w.running[rj.lease.JobID] == rj {
		delete(w.running, rj.lease.JobID)
	}
	w.mu.Unlock()
}

// cancelRunning cancels the handler of a held job with cause.
func (w *Worker) cancelRunning(id string, cause error) {
	w.mu.Lock()
	rj := w.running[id]
	w.mu.Unlock()
	if rj != nil {
		rj.cancel(cause)
	}
}

// call is a backend call bounded by the lease duration, so a hung store cannot stall a loop
// forever.
func (w *Worker) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(w.base, w.cfg.LeaseDuration)
	defer cancel()
	return f(ctx)
}

// formatQueues renders queue concurrencies as "a=10,b=5", sorted, for logs.
func formatQueues(qs map[string]int) string {
	names := slices.Sorted(maps.Keys(qs))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.Itoa(qs[n])
	}
	return strings.Join(parts, ",")
}
