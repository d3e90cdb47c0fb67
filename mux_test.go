package asyncmq

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestServeMuxRoutesThroughMiddleware(t *testing.T) {
	t.Parallel()
	var trace []string
	mux := NewServeMux()
	mw := func(name string) Middleware {
		return func(next Handler) Handler {
			return HandlerFunc(func(ctx context.Context, job *Job) error {
				trace = append(trace, name+">"+job.Task)
				return next.ProcessJob(ctx, job)
			})
		}
	}
	mux.Use(mw("outer"), mw("inner"))
	mux.HandleFunc("email.send", func(ctx context.Context, job *Job) error {
		trace = append(trace, "handler")
		return nil
	})
	mux.HandleFunc("report", func(context.Context, *Job) error { return nil })

	if err := mux.ProcessJob(context.Background(), NewTestJob("email.send", nil)); err != nil {
		t.Fatalf("ProcessJob: %v", err)
	}
	if want := []string{"outer>email.send", "inner>email.send", "handler"}; !slices.Equal(trace, want) {
		t.Errorf("call order = %v, want %v", trace, want)
	}
	if got, want := mux.Tasks(), []string{"email.send", "report"}; !slices.Equal(got, want) {
		t.Errorf("Tasks() = %v, want %v", got, want)
	}

	trace = nil
	err := mux.ProcessJob(context.Background(), NewTestJob("email.sned", nil))
	if err == nil || err.Error() != `no handler registered for task "email.sned": unknown task` {
		t.Errorf("unknown task error = %v", err)
	}
	if !errors.Is(err, SkipRetry) || !errors.Is(err, ErrUnknownTask) {
		t.Errorf("unknown task error %v should wrap SkipRetry and ErrUnknownTask", err)
	}
	if want := []string{"outer>email.sned", "inner>email.sned"}; !slices.Equal(trace, want) {
		t.Errorf("middleware did not see the unknown task: %v", trace)
	}
}

func TestServeMuxHandlePanicsOnMisuse(t *testing.T) {
	t.Parallel()
	noop := HandlerFunc(func(context.Context, *Job) error { return nil })
	tests := []struct {
		name string
		reg  func(m *ServeMux)
		want string
	}{
		{"empty task", func(m *ServeMux) { m.Handle("", noop) }, "task name is empty"},
		{"nil handler", func(m *ServeMux) { m.Handle("t", nil) }, "nil handler"},
		{"duplicate", func(m *ServeMux) { m.Handle("t", noop); m.Handle("t", noop) }, `"t"): task already registered`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tt.want) {
					t.Errorf("panic = %v, want one containing %q", r, tt.want)
				}
			}()
			tt.reg(&ServeMux{})
		})
	}
}

func TestTypedHandler(t *testing.T) {
	t.Parallel()
	type args struct {
		To    string `json:"to"`
		Count int    `json:"count"`
	}
	tests := []struct {
		name      string
		payload   string
		want      args
		wantErr   string
		wantRetry bool
	}{
		{name: "decodes", payload: `{"to":"a@b","count":2}`, want: args{To: "a@b", Count: 2}},
		{name: "empty payload is zero value", payload: ``, want: args{}},
		{name: "wrong type fails without retry", payload: `{"count":"two"}`, wantErr: `decode payload of task "t" into asyncmq.args`},
		{name: "not an object", payload: `[1]`, wantErr: "cannot unmarshal array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got args
			mux := NewServeMux()
			HandleTyped(mux, "t", func(_ context.Context, _ *Job, a args) error {
				got = a
				return nil
			})
			err := mux.ProcessJob(context.Background(), NewTestJob("t", json.RawMessage(tt.payload)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, SkipRetry) {
					t.Errorf("decode error %v does not wrap SkipRetry", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ProcessJob: %v", err)
			}
			if got != tt.want {
				t.Errorf("handler got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestJobSetResult(t *testing.T) {
	t.Parallel()
	j := NewTestJob("t", nil)
	if err := j.SetResult(map[string]int{"sent": 3}); err != nil {
		t.Fatalf("SetResult: %v", err)
	}
	if string(j.Result()) != `{"sent":3}` {
		t.Errorf("Result() = %s", j.Result())
	}
	if err := j.SetResult(strings.Repeat("x", DefaultMaxPayloadBytes)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("oversized SetResult error = %v, want ErrPayloadTooLarge", err)
	}
	if err := j.ReportProgress(context.Background(), 50); err == nil {
		t.Error("ReportProgress on a test job succeeded, want an error")
	}
}
