package asyncmq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func Example() {
	ctx := context.Background()
	b, err := asyncmq.Open(ctx, "memory://")
	if err != nil {
		panic(err)
	}
	defer b.Close()

	// Producer side.
	client := asyncmq.NewClient(b)
	job, err := client.Enqueue(ctx, "email.send", Email{To: "ada@example.com", Subject: "Welcome"},
		asyncmq.Queue("emails"), asyncmq.MaxRetries(5))
	if err != nil {
		panic(err)
	}

	// Worker side.
	done := make(chan struct{})
	mux := asyncmq.NewServeMux()
	asyncmq.HandleTyped(mux, "email.send", func(ctx context.Context, j *asyncmq.Job, e Email) error {
		fmt.Printf("sending %q to %s (attempt %d)\n", e.Subject, e.To, j.Attempt)
		return j.SetResult(map[string]string{"status": "sent"})
	})
	w, err := asyncmq.NewWorker(b, mux, asyncmq.WorkerConfig{
		Queues: map[string]int{"emails": 10},
		Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(e asyncmq.WorkerEvent) {
			if e.Kind == asyncmq.WorkerJobFinished && e.JobID == job.ID {
				close(done)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	go func() { _ = w.Run(ctx) }()
	<-done
	_ = w.Shutdown(ctx)

	stored, err := asyncmq.NewInspector(b).Job(ctx, job.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(stored.State == asyncmqtype.StateCompleted, string(stored.Result))
	// Output:
	// sending "Welcome" to ada@example.com (attempt 1)
	// true {"status":"sent"}
}

func ExampleClient_Enqueue_options() {
	ctx := context.Background()
	b, _ := asyncmq.Open(ctx, "memory://")
	defer b.Close()
	client := asyncmq.NewClient(b, asyncmq.KnownTasks("report.build"))

	j, err := client.Enqueue(ctx, "report.build", map[string]int{"month": 3},
		asyncmq.Queue("reports"),
		asyncmq.Priority(1),
		asyncmq.ExponentialBackoff(5*time.Second, 10*time.Minute),
		asyncmq.Unique("report-2026-03", time.Hour),
	)
	fmt.Println(j.Queue, j.Priority, j.State, err)

	_, err = client.Enqueue(ctx, "report.build", nil, asyncmq.Queue("reports"), asyncmq.Unique("report-2026-03", time.Hour))
	fmt.Println(err != nil, errors.Is(err, asyncmq.ErrDuplicateJob))

	_, err = client.Enqueue(ctx, "report.bild", nil)
	fmt.Println(err)
	// Output:
	// reports 1 waiting <nil>
	// true true
	// enqueue job of task "report.bild": task "report.bild" is not one of the client's KnownTasks ("report.build"): unknown task
}

func ExampleOnParentFailure() {
	ctx := context.Background()
	b, _ := asyncmq.Open(ctx, "memory://")
	defer b.Close()
	client := asyncmq.NewClient(b)
	insp := asyncmq.NewInspector(b)

	extract, _ := client.Enqueue(ctx, "etl.extract", nil)
	// The load waits for the extract; should the extract fail for good or be cancelled, the load
	// is cancelled too rather than failed (the default).
	load, _ := client.Enqueue(ctx, "etl.load", nil,
		asyncmq.DependsOn(extract.ID), asyncmq.OnParentFailure(asyncmqtype.ParentFailureCancel))
	fmt.Println(load.State)

	_ = insp.CancelJob(ctx, extract.ID)
	load, _ = insp.Job(ctx, load.ID)
	fmt.Println(load.State)
	// Output:
	// waiting-children
	// cancelled
}
