package demo

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
)

func setup(t *testing.T) *asyncmq.ServeMux {
	t.Helper()
	mux := asyncmq.NewServeMux()
	(&Handlers{StepDelay: time.Millisecond}).Register(mux)
	return mux
}

func TestRegisterAllTasks(t *testing.T) {
	t.Parallel()
	got := setup(t).Tasks()
	want := Tasks()
	if strings.Join(got, ",") != strings.Join(slices.Sorted(slices.Values(want)), ",") {
		t.Fatalf("registered tasks %v, want %v", got, want)
	}
}

func TestHandlers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		task       string
		payload    any
		attempt    int
		wantErr    error
		wantResult string
		wantPanic  bool
	}{
		{name: "email succeeds", task: TaskSendEmail, payload: Email{To: "a@example.com"}, attempt: 1, wantResult: `"to":"a@example.com"`},
		{name: "payment declined on early attempt", task: TaskChargePayment, payload: Payment{Customer: "c", AmountCents: 5, FailAttempts: 2}, attempt: 2, wantErr: ErrCardDeclined},
		{name: "payment succeeds after failures", task: TaskChargePayment, payload: Payment{Customer: "c", AmountCents: 5, FailAttempts: 2}, attempt: 3, wantResult: `"charged_cents":5`},
		{name: "gone webhook skips retries", task: TaskDeliverWebhook, payload: Webhook{URL: "u", Event: "e", Gone: true}, attempt: 1, wantErr: asyncmq.SkipRetry},
		{name: "webhook delivered", task: TaskDeliverWebhook, payload: Webhook{URL: "u", Event: "e"}, attempt: 1},
		{name: "corrupt image panics", task: TaskResizeImage, payload: Image{Path: "p", Width: 1, Corrupt: true}, attempt: 1, wantPanic: true},
		{name: "image resized", task: TaskResizeImage, payload: Image{Path: "p", Width: 64}, attempt: 1, wantResult: `"width":64`},
		{name: "sessions cleaned", task: TaskCleanSessions, attempt: 1, wantResult: `"removed":`},
		{name: "bad payload refused", task: TaskSendEmail, payload: json.RawMessage(`[1]`), attempt: 1, wantErr: asyncmq.SkipRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := setup(t)
			raw, err := json.Marshal(tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			j := asyncmq.NewTestJob(tt.task, raw)
			j.Attempt = tt.attempt
			defer func() {
				if r := recover(); (r != nil) != tt.wantPanic {
					t.Fatalf("panic = %v, want panic %v", r, tt.wantPanic)
				}
			}()
			err = mux.ProcessJob(context.Background(), j)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ProcessJob error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ProcessJob: %v", err)
			}
			if !strings.Contains(string(j.Result()), tt.wantResult) {
				t.Fatalf("result %s, want it to contain %s", j.Result(), tt.wantResult)
			}
		})
	}
}

func TestHandlerStopsOnCancel(t *testing.T) {
	t.Parallel()
	mux := asyncmq.NewServeMux()
	(&Handlers{StepDelay: time.Hour}).Register(mux)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := mux.ProcessJob(ctx, asyncmq.NewTestJob(TaskSendEmail, json.RawMessage(`{"to":"x"}`)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ProcessJob on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestFirstBatchCoversEveryTask(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range FirstBatch() {
		seen[r.Task] = true
	}
	for _, task := range Tasks() {
		if task != TaskCleanSessions && !seen[task] {
			t.Errorf("first batch has no %s job", task)
		}
	}
	if spec := RepeatableSpec(); spec.Task != TaskCleanSessions || asyncmq.ValidateCron(spec.Cron) != nil {
		t.Errorf("repeatable spec %+v is not a valid schedule of %s", spec, TaskCleanSessions)
	}
}
