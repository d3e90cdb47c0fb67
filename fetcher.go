package asyncmq

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

const (
	// maxClaimBatch caps one claim. A claim only asks for free slots, whose jobs start at once,
	// so a large cap hoards nothing; it bounds one statement's rows. At concurrency 1,000 a
	// cap of 100 made the claim round trip the limit (about 100 jobs per claim latency).
	maxClaimBatch = 1000
	// minIdlePoll is the first wait after a claim found nothing; it doubles up to PollInterval.
	minIdlePoll = 10 * time.Millisecond
	// errorLogEvery spaces out the log lines of a claim that keeps failing.
	errorLogEvery = 30 * time.Second
)

// fetcher claims jobs of one queue whenever the worker has free slots for it, in batches sized to
// the free slots, and starts a handler goroutine per job.
type fetcher struct {
	w     *Worker
	queue string
	slots int

	mu     sync.Mutex
	active int

	freed chan struct{} // a slot was freed
	hint  chan struct{} // jobs may have become runnable (promoted, recovered)
	// notified is the store's wake-up signal for the queue (backend.Notifier), nil when the
	// store has none. Polling stays as the fallback either way.
	notified <-chan struct{}
}

func newFetcher(w *Worker, queue string, slots int) *fetcher {
	return &fetcher{w: w, queue: queue, slots: slots, freed: make(chan struct{}, 1), hint: make(chan struct{}, 1)}
}

func (f *fetcher) free() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slots - f.active
}

// done frees the slot of a job whose outcome has been handed to the completer.
func (f *fetcher) done() {
	f.mu.Lock()
	f.active--
	f.mu.Unlock()
	signal(f.freed)
}

// wake tells an idle fetcher to claim now rather than at the end of its poll wait.
func (f *fetcher) wake() { signal(f.hint) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (f *fetcher) run(ctx context.Context) {
	w := f.w
	if n, ok := w.b.(backend.Notifier); ok {
		var stop func()
		f.notified, stop = n.Subscribe(f.queue)
		defer stop()
	}
	firstIdle := min(minIdlePoll, w.cfg.PollInterval)
	idle := firstIdle
	full := min(f.slots, maxClaimBatch)
	var last, loggedAt time.Time
	failures := 0
	for {
		free := f.free()
		if free == 0 {
			select {
			case <-ctx.Done():
				return
			case <-f.freed:
				continue
			}
		}
		// On a busy queue, let a few more slots free up so that one claim fills them all.
		if free < full {
			if wait := w.cfg.FetchCooldown - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-f.freed:
					t.Stop()
					continue
				case <-t.C:
				}
			}
		}

		n := min(free, maxClaimBatch)
		var jobs []*asyncmqtype.JobInfo
		// The leases of the claimed jobs run from no earlier than this, on the store's clock.
		claimStart := time.Now()
		err := w.call(func(cctx context.Context) error {
			var err error
			jobs, err = w.b.Claim(cctx, backend.ClaimParams{
				Queue: f.queue, WorkerID: w.id, Limit: n, LeaseDuration: w.cfg.LeaseDuration,
			})
			return err
		})
		// The cooldown counts from the end of the claim: slots freed while it ran are the ones
		// the next claim should collect.
		last = time.Now()
		w.emit(WorkerEvent{Kind: WorkerFetched, Queue: f.queue, Count: len(jobs), Err: err})
		if w.storeUnusable(err) {
			return
		}
		if err != nil {
			// A store that is down fails every poll; say so once, then every errorLogEvery.
			if failures == 0 || time.Since(loggedAt) >= errorLogEvery {
				w.log.Warn("claim jobs", slog.String("queue", f.queue), slog.Int("failures", failures+1), slog.Any("error", err))
				loggedAt = time.Now()
			}
			failures++
		} else {
			if failures > 0 {
				w.log.Info("claiming jobs again", slog.String("queue", f.queue), slog.Int("failures", failures))
			}
			failures = 0
		}
		for _, j := range jobs {
			f.mu.Lock()
			f.active++
			f.mu.Unlock()
			w.start(f, j, claimStart)
		}
		if len(jobs) > 0 {
			idle = firstIdle
			continue
		}
		t := time.NewTimer(idle)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-f.hint:
			t.Stop()
		case <-f.notified:
			t.Stop()
		case <-t.C:
		}
		idle = min(idle*2, w.cfg.PollInterval)
	}
}
