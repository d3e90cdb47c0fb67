package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/asyncmq/asyncmq"
)

// Producer keeps a trickle of demo jobs flowing. Its zero value is not usable; set Client and
// Inspector.
type Producer struct {
	Client    *asyncmq.Client
	Inspector *asyncmq.Inspector
	// Interval between two batches of jobs. Default 2s.
	Interval time.Duration
	// Logger receives a line per failed enqueue. Default slog.Default().
	Logger *slog.Logger
	// Rand picks the jobs; default a randomly seeded source. Tests pass a seeded one.
	Rand *rand.Rand
}

// RepeatableSpec is the demo's one repeatable: clean expired sessions every minute.
func RepeatableSpec() asyncmq.RepeatableSpec {
	return asyncmq.RepeatableSpec{
		ID:      "demo-sessions-clean",
		Queue:   QueueMaintenance,
		Task:    TaskCleanSessions,
		Cron:    "@every 1m",
		Payload: map[string]string{"older_than": "24h"},
	}
}

// Run creates the demo repeatable, enqueues a first batch of every kind of job at once (so the
// dashboard has something in every state within seconds), then a few jobs every Interval until
// ctx ends. It returns nil when ctx ends, or the error that stopped it at start.
func (p *Producer) Run(ctx context.Context) error {
	if p.Client == nil || p.Inspector == nil {
		return fmt.Errorf("demo producer: Client and Inspector are required")
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	rng := p.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	interval := p.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if _, err := p.Inspector.CreateRepeatable(ctx, RepeatableSpec()); err != nil {
		return fmt.Errorf("demo producer: %w", err)
	}
	if err := p.enqueue(ctx, FirstBatch()); err != nil {
		return fmt.Errorf("demo producer: first batch: %w", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n := 1 + rng.IntN(3)
		batch := make([]asyncmq.Request, n)
		for i := range batch {
			batch[i] = randomJob(rng)
		}
		if err := p.enqueue(ctx, batch); err != nil && ctx.Err() == nil {
			log.Warn("demo producer: enqueue failed", "err", err)
		}
	}
}

func (p *Producer) enqueue(ctx context.Context, reqs []asyncmq.Request) error {
	_, err := p.Client.EnqueueMany(ctx, reqs)
	return err
}

// FirstBatch is one job of every kind: a success, a report with progress, a payment that is
// retried then succeeds, one that fails for good, a webhook that fails without retry, a panicking
// image job and a delayed e-mail.
func FirstBatch() []asyncmq.Request {
	return []asyncmq.Request{
		{Task: TaskSendEmail, Payload: Email{To: "ada@example.com", Subject: "Welcome aboard", APIKey: "sk_demo_4f9a2b7c"}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueEmails)}},
		{Task: TaskGenerateReport, Payload: Report{Name: "monthly-revenue", Steps: 10}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueReports)}},
		{Task: TaskChargePayment, Payload: Payment{Customer: "cus_1001", AmountCents: 4200, FailAttempts: 1}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueuePayments), asyncmq.MaxRetries(2), asyncmq.FixedBackoff(2 * time.Second)}},
		{Task: TaskChargePayment, Payload: Payment{Customer: "cus_1002", AmountCents: 990, FailAttempts: 99}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueuePayments), asyncmq.MaxRetries(1), asyncmq.FixedBackoff(2 * time.Second)}},
		{Task: TaskDeliverWebhook, Payload: Webhook{URL: "https://hooks.example.com/orders", Event: "order.created", Gone: true}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueWebhooks)}},
		{Task: TaskResizeImage, Payload: Image{Path: "uploads/cat.jpg", Width: 640, Corrupt: true}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueImages), asyncmq.MaxRetries(0)}},
		{Task: TaskSendEmail, Payload: Email{To: "grace@example.com", Subject: "Your weekly digest"}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueEmails), asyncmq.Delay(5 * time.Minute)}},
	}
}

var customers = []string{"cus_2001", "cus_2002", "cus_2003", "cus_2004"}

// randomJob picks one job of the trickle: mostly successes, about one in five failing at least
// once, some delayed.
func randomJob(rng *rand.Rand) asyncmq.Request {
	switch k := rng.IntN(20); {
	case k < 7:
		opts := []asyncmq.EnqueueOption{asyncmq.Queue(QueueEmails), asyncmq.Priority(1 + rng.IntN(9))}
		if rng.IntN(4) == 0 {
			opts = append(opts, asyncmq.Delay(time.Duration(10+rng.IntN(50))*time.Second))
		}
		return asyncmq.Request{Task: TaskSendEmail, Payload: Email{To: fmt.Sprintf("user%d@example.com", rng.IntN(1000)), Subject: "Order shipped"}, Options: opts}
	case k < 10:
		return asyncmq.Request{Task: TaskGenerateReport, Payload: Report{Name: fmt.Sprintf("daily-%d", rng.IntN(100)), Steps: 3 + rng.IntN(8)}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueReports)}}
	case k < 15:
		fail := 0
		if rng.IntN(4) == 0 {
			fail = 1 + rng.IntN(3) // with MaxRetries 2, fail=3 ends failed
		}
		return asyncmq.Request{Task: TaskChargePayment, Payload: Payment{Customer: customers[rng.IntN(len(customers))], AmountCents: 100 + rng.IntN(20000), FailAttempts: fail}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueuePayments), asyncmq.MaxRetries(2), asyncmq.ExponentialBackoff(time.Second, 10*time.Second)}}
	case k < 18:
		return asyncmq.Request{Task: TaskDeliverWebhook, Payload: Webhook{URL: "https://hooks.example.com/orders", Event: "order.paid", Gone: rng.IntN(10) == 0}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueWebhooks)}}
	default:
		return asyncmq.Request{Task: TaskResizeImage, Payload: Image{Path: fmt.Sprintf("uploads/%d.jpg", rng.IntN(10000)), Width: 320, Corrupt: rng.IntN(10) == 0}, Options: []asyncmq.EnqueueOption{asyncmq.Queue(QueueImages), asyncmq.MaxRetries(0)}}
	}
}
