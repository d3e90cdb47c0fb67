package backendtest

import (
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func testWorkers(t *testing.T, newBackend factory) {
	t.Run("HeartbeatRegistersAndRefreshes", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		beat := func(now time.Time, w asyncmqtype.WorkerInfo) {
			t.Helper()
			_, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Worker: w, Now: now})
			requireNoError(t, err, "heartbeat of "+w.ID)
		}
		workerIDs := func() []string {
			t.Helper()
			ws, err := s.b.Workers(s.ctx)
			requireNoError(t, err, "list workers")
			out := make([]string, len(ws))
			for i, w := range ws {
				out[i] = w.ID
			}
			return out
		}
		requireEqual(t, len(workerIDs()), 0, "workers of an empty store")

		w1 := asyncmqtype.WorkerInfo{ID: "w1", Hostname: "host-a", PID: 4242, Queues: []string{"default", "q2"}, Concurrency: 8, Active: 3}
		beat(t0, w1)
		beat(at(time.Second), asyncmqtype.WorkerInfo{ID: "w2", Hostname: "host-b", StartedAt: at(-time.Hour)})
		requireIDs(t, workerIDs(), []string{"w2", "w1"}, "workers, newest heartbeat first")

		ws, err := s.b.Workers(s.ctx)
		requireNoError(t, err, "list workers")
		got := ws[1]
		requireTime(t, got.StartedAt, t0, "w1 StartedAt (the first heartbeat)")
		requireTime(t, got.LastHeartbeat, t0, "w1 LastHeartbeat")
		got.StartedAt, got.LastHeartbeat = time.Time{}, time.Time{}
		requireEqual(t, got, w1, "w1")
		requireTime(t, ws[0].StartedAt, at(-time.Hour), "w2 StartedAt (given)")

		w1.Active = 0
		beat(at(2*time.Second), w1)
		requireIDs(t, workerIDs(), []string{"w1", "w2"}, "workers after w1's second heartbeat")
		ws, err = s.b.Workers(s.ctx)
		requireNoError(t, err, "list workers")
		requireTime(t, ws[0].StartedAt, t0, "w1 StartedAt (kept)")
		requireTime(t, ws[0].LastHeartbeat, at(2*time.Second), "w1 LastHeartbeat")
		requireEqual(t, ws[0].Active, 0, "w1 Active")

		requireNoError(t, s.b.RemoveWorker(s.ctx, "w1"), "remove w1")
		requireIDs(t, workerIDs(), []string{"w2"}, "workers after removing w1")
		requireNoError(t, s.b.RemoveWorker(s.ctx, "w1"), "remove w1 again")
	})

	t.Run("PruneWorkers", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		for i, id := range []string{"dead1", "dead2", "edge", "live"} {
			_, err := s.b.Heartbeat(s.ctx, backend.HeartbeatParams{Worker: asyncmqtype.WorkerInfo{ID: id}, Now: at(time.Duration(i) * time.Minute)})
			requireNoError(t, err, "heartbeat of "+id)
		}
		n, err := s.b.PruneWorkers(s.ctx, backend.PruneWorkersParams{Before: at(2 * time.Minute)})
		requireNoError(t, err, "prune workers")
		requireEqual(t, n, 2, "pruned")
		ws, err := s.b.Workers(s.ctx)
		requireNoError(t, err, "list workers")
		ids := make([]string, len(ws))
		for i, w := range ws {
			ids[i] = w.ID
		}
		requireIDs(t, ids, []string{"live", "edge"}, "workers after pruning those silent before 2m (the one at 2m stays)")
		n, err = s.b.PruneWorkers(s.ctx, backend.PruneWorkersParams{Before: at(2 * time.Minute)})
		requireNoError(t, err, "prune again")
		requireEqual(t, n, 0, "pruned again")
	})
}
