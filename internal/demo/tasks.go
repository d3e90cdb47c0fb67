package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asyncmq/asyncmq"
)

// The demo task names.
const (
	TaskSendEmail      = "demo.email.send"
	TaskGenerateReport = "demo.report.generate"
	TaskChargePayment  = "demo.payment.charge"
	TaskDeliverWebhook = "demo.webhook.deliver"
	TaskResizeImage    = "demo.image.resize"
	TaskCleanSessions  = "demo.sessions.clean"
)

// The queues the demo jobs go to.
const (
	QueueEmails      = "emails"
	QueueReports     = "reports"
	QueuePayments    = "payments"
	QueueWebhooks    = "webhooks"
	QueueImages      = "images"
	QueueMaintenance = "maintenance"
)

// Queues lists every queue the demo uses, so workers can serve them.
var Queues = []string{QueueEmails, QueueReports, QueuePayments, QueueWebhooks, QueueImages, QueueMaintenance}

// Email is the payload of TaskSendEmail. APIKey is there to show the dashboard's redaction.
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	APIKey  string `json:"api_key,omitempty"`
}

// Report is the payload of TaskGenerateReport.
type Report struct {
	Name string `json:"name"`
	// Steps is how many progress reports the handler sends (one every StepDelay).
	Steps int `json:"steps"`
}

// Payment is the payload of TaskChargePayment.
type Payment struct {
	Customer    string `json:"customer"`
	AmountCents int    `json:"amount_cents"`
	// FailAttempts makes the first FailAttempts attempts fail with "card declined", to show
	// retries with backoff and, past MaxRetries, a failed job.
	FailAttempts int `json:"fail_attempts,omitempty"`
}

// Webhook is the payload of TaskDeliverWebhook.
type Webhook struct {
	URL   string `json:"url"`
	Event string `json:"event"`
	// Gone makes the endpoint answer 410: the job fails at once, without retries.
	Gone bool `json:"gone,omitempty"`
}

// Image is the payload of TaskResizeImage.
type Image struct {
	Path  string `json:"path"`
	Width int    `json:"width"`
	// Corrupt makes the handler panic, to show a recorded panic with its stack.
	Corrupt bool `json:"corrupt,omitempty"`
}

// Handlers does the demo work. Its zero value is ready; StepDelay scales every simulated wait
// (default 200ms), so tests can make the demo fast.
type Handlers struct {
	StepDelay time.Duration
}

func (h *Handlers) step() time.Duration {
	if h.StepDelay > 0 {
		return h.StepDelay
	}
	return 200 * time.Millisecond
}

// wait sleeps for about n steps, or until ctx ends (a cancelled job, a shutdown).
func (h *Handlers) wait(ctx context.Context, n float64) error {
	d := time.Duration(n * float64(h.step()) * (0.5 + rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Register adds every demo task to mux.
func (h *Handlers) Register(mux *asyncmq.ServeMux) {
	asyncmq.HandleTyped(mux, TaskSendEmail, h.sendEmail)
	asyncmq.HandleTyped(mux, TaskGenerateReport, h.generateReport)
	asyncmq.HandleTyped(mux, TaskChargePayment, h.chargePayment)
	asyncmq.HandleTyped(mux, TaskDeliverWebhook, h.deliverWebhook)
	asyncmq.HandleTyped(mux, TaskResizeImage, h.resizeImage)
	mux.HandleFunc(TaskCleanSessions, h.cleanSessions)
}

// Tasks lists the demo task names.
func Tasks() []string {
	return []string{TaskSendEmail, TaskGenerateReport, TaskChargePayment, TaskDeliverWebhook, TaskResizeImage, TaskCleanSessions}
}

func (h *Handlers) sendEmail(ctx context.Context, j *asyncmq.Job, e Email) error {
	if err := h.wait(ctx, 1); err != nil {
		return err
	}
	return j.SetResult(map[string]string{"message_id": fmt.Sprintf("<%s@demo.asyncmq>", j.ID), "to": e.To})
}

func (h *Handlers) generateReport(ctx context.Context, j *asyncmq.Job, r Report) error {
	steps := max(r.Steps, 1)
	for i := 1; i <= steps; i++ {
		if err := h.wait(ctx, 1); err != nil {
			return err
		}
		if err := j.ReportProgress(ctx, map[string]int{"percent": i * 100 / steps, "rows": i * 1000}); err != nil {
			return fmt.Errorf("report progress of %q: %w", r.Name, err)
		}
	}
	return j.SetResult(map[string]any{"report": r.Name, "rows": steps * 1000})
}

// ErrCardDeclined is the demo payment failure.
var ErrCardDeclined = errors.New("card declined by issuer (demo)")

func (h *Handlers) chargePayment(ctx context.Context, j *asyncmq.Job, p Payment) error {
	if err := h.wait(ctx, 1); err != nil {
		return err
	}
	if j.Attempt <= p.FailAttempts {
		return fmt.Errorf("charge %d cents to %s: %w", p.AmountCents, p.Customer, ErrCardDeclined)
	}
	return j.SetResult(map[string]any{"charged_cents": p.AmountCents, "attempt": j.Attempt})
}

func (h *Handlers) deliverWebhook(ctx context.Context, j *asyncmq.Job, w Webhook) error {
	if err := h.wait(ctx, 0.5); err != nil {
		return err
	}
	if w.Gone {
		// Retrying a 410 cannot help: fail now.
		return fmt.Errorf("deliver %s to %s: endpoint answered 410 Gone: %w", w.Event, w.URL, asyncmq.SkipRetry)
	}
	return nil
}

func (h *Handlers) resizeImage(ctx context.Context, j *asyncmq.Job, img Image) error {
	if err := h.wait(ctx, 1); err != nil {
		return err
	}
	if img.Corrupt {
		// A decoder bug: the worker recovers it and records the panic with its stack.
		panic(fmt.Sprintf("decode %s: corrupt JPEG marker at offset %d", img.Path, img.Width))
	}
	return j.SetResult(map[string]any{"path": img.Path, "width": img.Width})
}

func (h *Handlers) cleanSessions(ctx context.Context, j *asyncmq.Job) error {
	if err := h.wait(ctx, 0.5); err != nil {
		return err
	}
	return j.SetResult(map[string]int{"removed": rand.IntN(20)})
}
