package backendtest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// call is one valid call of a Backend method, for the checks that every method honours.
type call struct {
	name string
	do   func(ctx context.Context, b backend.Store) error
}

// everyMethod returns one valid call per Backend method (but Close), against a store holding job
// "a" (waiting), "b" (active, claimed with token) and repeatable "r" due at t0. Run in order on
// one store, every call succeeds.
func everyMethod(token string) []call {
	lease := backend.Lease{JobID: "b", LeaseToken: token}
	second := func(_ any, err error) error { return err }
	return []call{
		{"Enqueue", func(ctx context.Context, b backend.Store) error {
			return b.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{job("new")}, Now: t0})
		}},
		{"Claim", func(ctx context.Context, b backend.Store) error {
			return second(b.Claim(ctx, backend.ClaimParams{Queue: "default", WorkerID: "w", Limit: 1, LeaseDuration: lease2, Now: t0}))
		}},
		{"SetProgress", func(ctx context.Context, b backend.Store) error {
			return b.SetProgress(ctx, backend.ProgressParams{Lease: lease, Progress: []byte(`1`)})
		}},
		{"Heartbeat", func(ctx context.Context, b backend.Store) error {
			return second(b.Heartbeat(ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: "w"}, Leases: []backend.Lease{lease}, LeaseDuration: lease2, Now: t0}))
		}},
		{"Finish", func(ctx context.Context, b backend.Store) error {
			return second(b.Finish(ctx, backend.FinishParams{Items: []backend.Finish{{JobID: "b", LeaseToken: token, Outcome: asyncmqtype.OutcomeCompleted}}, Now: t0}))
		}},
		{"Release", func(ctx context.Context, b backend.Store) error {
			return b.Release(ctx, backend.ReleaseParams{Leases: []backend.Lease{lease}, Now: t0})
		}},
		{"PromoteDue", func(ctx context.Context, b backend.Store) error {
			return second(b.PromoteDue(ctx, backend.PromoteParams{Now: at(time.Hour)}))
		}},
		{"RecoverStalled", func(ctx context.Context, b backend.Store) error {
			return second(b.RecoverStalled(ctx, backend.RecoverParams{Now: at(time.Hour), MaxStalls: 1}))
		}},
		{"Queues", func(ctx context.Context, b backend.Store) error { return second(b.Queues(ctx)) }},
		{"Queue", func(ctx context.Context, b backend.Store) error { return second(b.Queue(ctx, "default")) }},
		{"SetQueuePaused", func(ctx context.Context, b backend.Store) error { return b.SetQueuePaused(ctx, "default", true) }},
		{"SetRateLimit", func(ctx context.Context, b backend.Store) error {
			return b.SetRateLimit(ctx, backend.RateLimitParams{Queue: "default", Limit: 1, Interval: time.Second})
		}},
		{"GetJob", func(ctx context.Context, b backend.Store) error { return second(b.GetJob(ctx, "a")) }},
		{"ListJobs", func(ctx context.Context, b backend.Store) error {
			return second(b.ListJobs(ctx, asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting}, Limit: 10}))
		}},
		{"ApplyJobs", func(ctx context.Context, b backend.Store) error {
			return second(b.ApplyJobs(ctx, asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRemove, IDs: []string{"a"}, Now: t0}))
		}},
		{"Clean", func(ctx context.Context, b backend.Store) error {
			return second(b.Clean(ctx, backend.CleanParams{Queue: "default", State: asyncmqtype.StateCompleted}))
		}},
		{"Drain", func(ctx context.Context, b backend.Store) error { return second(b.Drain(ctx, "default", true)) }},
		{"Obliterate", func(ctx context.Context, b backend.Store) error { return b.Obliterate(ctx, "default", true) }},
		{"UpsertRepeatable", func(ctx context.Context, b backend.Store) error {
			return b.UpsertRepeatable(ctx, repeatable("r2", "default"))
		}},
		{"Repeatables", func(ctx context.Context, b backend.Store) error { return second(b.Repeatables(ctx, "")) }},
		{"GetRepeatable", func(ctx context.Context, b backend.Store) error { return second(b.GetRepeatable(ctx, "r")) }},
		{"DueRepeatables", func(ctx context.Context, b backend.Store) error { return second(b.DueRepeatables(ctx, t0)) }},
		{"FireRepeatable", func(ctx context.Context, b backend.Store) error {
			return b.FireRepeatable(ctx, backend.FireParams{ID: "r", Expected: t0, Next: at(time.Hour), Job: job("fired"), Now: t0})
		}},
		{"SetRepeatablePaused", func(ctx context.Context, b backend.Store) error { return b.SetRepeatablePaused(ctx, "r", true) }},
		{"RemoveRepeatable", func(ctx context.Context, b backend.Store) error { return b.RemoveRepeatable(ctx, "r") }},
		{"Workers", func(ctx context.Context, b backend.Store) error { return second(b.Workers(ctx)) }},
		{"RemoveWorker", func(ctx context.Context, b backend.Store) error { return b.RemoveWorker(ctx, "w") }},
		{"Events", func(ctx context.Context, b backend.Store) error {
			return second(b.Events(ctx, asyncmqtype.EventsParams{}))
		}},
		{"LastEventCursor", func(ctx context.Context, b backend.Store) error { return second(b.LastEventCursor(ctx)) }},
		{"RecentEvents", func(ctx context.Context, b backend.Store) error {
			return second(b.RecentEvents(ctx, asyncmqtype.RecentEventsParams{Limit: 10}))
		}},
		{"PruneWorkers", func(ctx context.Context, b backend.Store) error {
			return second(b.PruneWorkers(ctx, backend.PruneWorkersParams{Before: t0}))
		}},
		{"Elect", func(ctx context.Context, b backend.Store) error {
			return second(b.Elect(ctx, backend.ElectParams{Name: "maintenance", Holder: "w", TTL: time.Second}))
		}},
		{"Resign", func(ctx context.Context, b backend.Store) error {
			return b.Resign(ctx, backend.ResignParams{Name: "maintenance", Holder: "w"})
		}},
		{"Metrics", func(ctx context.Context, b backend.Store) error {
			return second(b.Metrics(ctx, asyncmqtype.MetricsParams{}))
		}},
		{"AppendAudit", func(ctx context.Context, b backend.Store) error {
			return second(b.AppendAudit(ctx, asyncmqtype.AuditEntry{Action: "job.retry", Status: "success"}))
		}},
		{"Audit", func(ctx context.Context, b backend.Store) error {
			return second(b.Audit(ctx, asyncmqtype.AuditParams{}))
		}},
		{"Ping", func(ctx context.Context, b backend.Store) error { return b.Ping(ctx) }},
	}
}

// lease2 is the lease of everyMethod's calls.
const lease2 = time.Minute

// methodFixture stores what everyMethod expects and returns b's lease token.
func methodFixture(s *bundle) string {
	s.t.Helper()
	s.enqueue(job("b", withPriority(1)), job("a"))
	token := s.claimOne(t0, "b").LeaseToken
	requireNoError(s.t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "other")), "upsert repeatable")
	return token
}

func testLifecycle(t *testing.T, newBackend factory) {
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		requireNoError(t, s.b.Ping(s.ctx), "ping")
	})

	t.Run("EveryMethodWorks", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		token := methodFixture(s)
		for _, c := range everyMethod(token) {
			requireNoError(t, c.do(s.ctx, s.b), c.name)
		}
	})

	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		token := methodFixture(s)
		requireNoError(t, s.b.Close(), "close")
		requireNoError(t, s.b.Close(), "close again")
		for _, c := range everyMethod(token) {
			requireErrorIs(t, c.do(s.ctx, s.b), asyncmqtype.ErrClosed, c.name+" after Close")
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		token := methodFixture(s)
		ctx, cancel := context.WithCancel(s.ctx)
		cancel()
		before := s.lastCursor()
		for _, c := range everyMethod(token) {
			requireErrorIs(t, c.do(ctx, s.b), context.Canceled, c.name+" with a cancelled context")
		}
		// Nothing changed.
		requireEqual(t, s.lastCursor(), before, "LastEventCursor")
		s.requireCounts("default", counts{asyncmqtype.StateWaiting: 1, asyncmqtype.StateActive: 1})
		requireEqual(t, s.get("b").LeaseToken, token, "b's lease token")
		r, err := s.b.GetRepeatable(s.ctx, "r")
		requireNoError(t, err, "get repeatable")
		requireEqual(t, r.Paused, false, "repeatable Paused")
		requireTime(t, r.NextRun, t0, "repeatable NextRun")
		qi, err := s.b.Queue(s.ctx, "default")
		requireNoError(t, err, "get queue")
		requireEqual(t, [2]any{qi.Paused, qi.RateLimit}, [2]any{false, 0}, "queue settings")
		ws, err := s.b.Workers(s.ctx)
		requireNoError(t, err, "list workers")
		requireEqual(t, len(ws), 0, "workers")
		audit, err := s.b.Audit(s.ctx, asyncmqtype.AuditParams{})
		requireNoError(t, err, "list audit")
		requireEqual(t, len(audit), 0, "audit entries")
	})

	t.Run("ConcurrentProducersAndWorkers", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		runConcurrently(t, []backend.Store{s.b}, 3, 4, 40)
		s.requireCounts("default", counts{asyncmqtype.StateCompleted: 120})
	})
}

// runConcurrently has producers enqueue perProducer jobs each (in small batches) while workers
// claim and complete them, over the given backends (round robin), and waits until all are done.
func runConcurrently(t *testing.T, bs []backend.Store, producers, workers, perProducer int) {
	t.Helper()
	total := int64(producers * perProducer)
	var (
		done     atomic.Int64
		wg       sync.WaitGroup
		ctx      = t.Context()
		deadline = time.Now().Add(30 * time.Second)
	)
	for p := range producers {
		wg.Go(func() {
			b := bs[p%len(bs)]
			for i := 0; i < perProducer; i += 5 {
				var batch []*asyncmqtype.JobInfo
				for k := i; k < min(i+5, perProducer); k++ {
					batch = append(batch, job(fmt.Sprintf("p%d-%03d", p, k)))
				}
				if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: batch, Now: t0}); err != nil {
					t.Errorf("producer %d: enqueue: %v", p, err)
					return
				}
			}
		})
	}
	for w := range workers {
		wg.Go(func() {
			b := bs[w%len(bs)]
			worker := fmt.Sprintf("w%d", w)
			for done.Load() < total {
				if time.Now().After(deadline) {
					t.Errorf("%s: gave up with %d of %d jobs done", worker, done.Load(), total)
					return
				}
				jobs, err := b.Claim(ctx, backend.ClaimParams{Queue: "default", WorkerID: worker, Limit: 4, LeaseDuration: lease, Now: t0})
				if err != nil {
					t.Errorf("%s: claim: %v", worker, err)
					return
				}
				if len(jobs) == 0 {
					// Nothing to do until a producer catches up; let it run.
					runtime.Gosched()
					continue
				}
				items := make([]backend.Finish, len(jobs))
				for i, j := range jobs {
					items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: asyncmqtype.OutcomeCompleted}
				}
				errs, err := b.Finish(ctx, backend.FinishParams{Items: items, Now: t0})
				if err != nil {
					t.Errorf("%s: finish: %v", worker, err)
					return
				}
				for i, e := range errs {
					if e != nil {
						t.Errorf("%s: finish %s: %v", worker, items[i].JobID, e)
					}
				}
				done.Add(int64(len(jobs)))
			}
		})
	}
	wg.Wait()
	if n := done.Load(); n != total {
		t.Fatalf("%d jobs completed, want %d", n, total)
	}
}
