package asyncmq

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/backend"
)

// maintenanceRole is the name of the lease the maintenance leader holds in the store.
const maintenanceRole = "maintenance"

// leadership is a worker's view of the maintenance lease. The lease lasts LeaseDuration in the
// store and is renewed every LeaseDuration/3; when the leader dies, another worker takes it at
// its first election after the lease expired: within LeaseDuration + LeaseDuration/3, inside the
// two lease periods the failover promise allows.
//
// A worker trusts its leadership only until its own monotonic clock says the lease could have
// expired (measured from before the Elect call, minus a margin for clock rates), so a worker that
// cannot reach the store stops leading on its own; the store's clock decides expiry for everyone
// else, so host clocks never matter.
type leadership struct {
	mu    sync.Mutex
	until time.Time // monotonic; zero when not leading
	ttl   time.Duration
	// reported is the leadership the worker last logged and emitted.
	reported bool
}

func newLeadership(ttl time.Duration) *leadership { return &leadership{ttl: ttl} }

func (l *leadership) renewEvery() time.Duration { return max(l.ttl/3, time.Millisecond) }

// leading reports whether the worker may run the maintenance services now.
func (l *leadership) leading() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.trustedLocked()
}

// trustedLocked reports whether the lease last won still holds on the worker's monotonic clock;
// l.mu is held.
func (l *leadership) trustedLocked() bool { return !l.until.IsZero() && time.Now().Before(l.until) }

// elect takes or renews the lease and reports whether the worker leads.
func (l *leadership) elect(w *Worker) bool {
	start := time.Now()
	var got backend.Leadership
	err := w.call(func(ctx context.Context) error {
		var err error
		got, err = w.b.Elect(ctx, backend.ElectParams{Name: maintenanceRole, Holder: w.id, TTL: l.ttl})
		return err
	})
	l.mu.Lock()
	switch {
	case err != nil:
		// Keep leading until the lease we last saw could have expired.
	case got.Holder == w.id:
		l.until = start.Add(l.ttl - l.ttl/10)
	default:
		l.until = time.Time{}
	}
	now := l.trustedLocked()
	was := l.reported
	l.reported = now
	l.mu.Unlock()
	if err != nil {
		w.log.Warn("elect maintenance leader", slog.Any("error", err))
	}
	if now != was {
		if now {
			w.log.Info("this worker now runs the store's maintenance")
		} else {
			w.log.Info("another worker runs the store's maintenance", slog.String("leader", got.Holder))
		}
		count := 0
		if now {
			count = 1
		}
		w.emit(WorkerEvent{Kind: WorkerLeader, Count: count, Err: err})
	}
	return now
}

// resign gives the lease up at shutdown, so another worker takes over at its next election
// instead of after the lease expires.
func (l *leadership) resign(w *Worker) {
	l.mu.Lock()
	was := !l.until.IsZero()
	l.until = time.Time{}
	l.reported = false
	l.mu.Unlock()
	if !was {
		return
	}
	ctx, cancel := context.WithTimeout(w.base, 5*time.Second)
	defer cancel()
	if err := w.b.Resign(ctx, backend.ResignParams{Name: maintenanceRole, Holder: w.id}); err != nil {
		w.log.Warn("resign maintenance leadership", slog.Any("error", err))
	}
}
