package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/sqlite"
)

// Applications normally open the store through asyncmq.Open("sqlite://asyncmq.db"); a
// backend opened directly takes options.
func Example() {
	dir, err := os.MkdirTemp("", "asyncmq-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	b, err := sqlite.Open(ctx, filepath.Join(dir, "asyncmq.db"),
		sqlite.Synchronous(sqlite.SyncFull), // every commit survives power loss
		sqlite.EventRetention(10_000),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	err = b.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{
		{ID: "job-1", Queue: "emails", Task: "email.send", Payload: []byte(`{"to":"ada@example.com"}`), Priority: 5},
	}})
	if err != nil {
		log.Fatal(err)
	}
	jobs, err := b.Claim(ctx, backend.ClaimParams{Queue: "emails", WorkerID: "w1", Limit: 10, LeaseDuration: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	q, err := b.Queue(ctx, "emails")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jobs[0].ID, jobs[0].State, q.Counts[asyncmqtype.StateActive])
	// Output: job-1 active 1
}
