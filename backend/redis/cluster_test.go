package redis_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"

	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/backendtest"
	"github.com/asyncmq/asyncmq/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
)

// clusterURL returns a Redis Cluster for the test: ASYNCMQ_TEST_REDIS_CLUSTER=1 starts a private
// three-master cluster for the test, any other value is taken as the URL of
// one. Unset, the test is skipped.
func clusterURL(t *testing.T) string {
	t.Helper()
	v := os.Getenv("ASYNCMQ_TEST_REDIS_CLUSTER")
	switch v {
	case "":
		t.Skip("ASYNCMQ_TEST_REDIS_CLUSTER is not set (1 starts a private cluster)")
	case "1":
		return redistest.StartCluster(t)
	}
	return v
}

func TestClusterConformance(t *testing.T) {
	url := clusterURL(t)
	t.Run("Run", func(t *testing.T) {
		t.Parallel()
		backendtest.Run(t, func(t *testing.T) backend.Store {
			return openStore(t, withPrefix(url, uniquePrefix()))
		})
	})
	// On Cluster the set of queues is written after an enqueue's transaction and may lack a
	// queue (a crash in between), so every ID is indexed there, sealed or not: a job is found
	// by ID and its ID refused again even when no lookup could ask its queue.
	t.Run("SealedIDsIndexed", func(t *testing.T) {
		t.Parallel()
		prefix := uniquePrefix()
		s := openStore(t, withPrefix(url, prefix))
		ctx, now := t.Context(), time.Now()
		enq := func(id, q string, fresh bool) error {
			return s.Enqueue(ctx, backend.EnqueueParams{Now: now, FreshIDs: fresh,
				Jobs: []*asyncmqtype.JobInfo{{ID: id, Queue: q, Task: "t", RunAt: now, CreatedAt: now}}})
		}
		id := asyncmq.NewID()
		if err := enq(id, "q", true); err != nil {
			t.Fatal(err)
		}
		raw := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: strings.Split(strings.TrimPrefix(url, "redis+cluster://"), ",")})
		defer raw.Close()
		if err := raw.SRem(ctx, prefix+":queues", "q").Err(); err != nil {
			t.Fatal(err)
		}
		if j, err := s.GetJob(ctx, id); err != nil || j.Queue != "q" {
			t.Fatalf("get job %s of a queue missing from the set of queues: %+v, %v", id, j, err)
		}
		if err := enq(id, "other", false); !errors.Is(err, asyncmqtype.ErrJobExists) {
			t.Fatalf("enqueue the ID of a job of a queue missing from the set of queues: %v, want ErrJobExists", err)
		}
	})
	t.Run("RunShared", func(t *testing.T) {
		t.Parallel()
		backendtest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) {
			u := withPrefix(url, uniquePrefix())
			return openStore(t, u), openStore(t, u)
		})
	})
}

// A plain enqueue (a transaction of commands, not the script) wakes the queue's subscribers on
// Cluster too: its SPUBLISH goes in the queue's slot with the rest of the transaction.
func TestClusterPlainEnqueueWakes(t *testing.T) {
	url := withPrefix(clusterURL(t), uniquePrefix())
	producer, worker := openStore(t, url), openStore(t, url)
	ch, stop := worker.Subscribe("cq")
	defer stop()
	time.Sleep(100 * time.Millisecond) // let the subscription reach the cluster
	for i := range 20 {
		if err := producer.Enqueue(t.Context(), pathParams(true, &asyncmqtype.JobInfo{ID: fmt.Sprint("c", i), Queue: "cq", Task: "t"})); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(2 * time.Second):
			t.Fatalf("no wake-up for plain enqueue %d", i)
		}
	}
}
