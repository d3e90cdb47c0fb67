package backendtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func withHeaders(h map[string]string) func(*asyncmqtype.JobInfo) {
	return func(j *asyncmqtype.JobInfo) { j.Headers = h }
}

// traceHeaders are headers as a tracing middleware writes them, with a value using characters a
// store's encoding must escape.
var traceHeaders = map[string]string{
	"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	"tracestate":  `vendor=a:b,other="quoted"\ ünïcode`,
	"X-Tenant.id": "",
}

func testHeaders(t *testing.T, newBackend factory) {
	// Every read path returns the headers: GetJob, a full listing and Claim.
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("h", withHeaders(traceHeaders)))
		requireEqual(t, s.get("h").Headers, traceHeaders, "GetJob's headers")
		page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting}})
		requireEqual(t, len(page.Jobs), 1, "jobs listed")
		requireEqual(t, page.Jobs[0].Headers, traceHeaders, "listed headers")
		requireEqual(t, s.claimOne(t0, "h").Headers, traceHeaders, "claimed headers")
	})

	// A batch large enough for a store's bulk path (COPY on PostgreSQL) keeps each job's own
	// headers, and nil where it has none.
	t.Run("RoundTripMany", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		const n = 600
		batch := make([]*asyncmqtype.JobInfo, n)
		for i := range batch {
			batch[i] = job(fmt.Sprintf("j%03d", i))
			if i%2 == 0 {
				batch[i].Headers = map[string]string{"n": fmt.Sprint(i), "traceparent": traceHeaders["traceparent"]}
			}
		}
		s.enqueue(batch...)
		for _, i := range []int{0, 1, 298, 599} {
			got := s.get(fmt.Sprintf("j%03d", i)).Headers
			if i%2 == 1 {
				requireEqual(t, got, map[string]string(nil), fmt.Sprintf("headers of job %d, enqueued without", i))
				continue
			}
			requireEqual(t, got, map[string]string{"n": fmt.Sprint(i), "traceparent": traceHeaders["traceparent"]},
				fmt.Sprintf("headers of job %d", i))
		}
		// A small batch takes the ordinary path, with a dependency that keeps it off any bulk one.
		s.enqueue(job("p", withHeaders(map[string]string{"a": "1"})), job("c", dependsOn("p"), withHeaders(map[string]string{"b": "2"})))
		requireEqual(t, s.get("p").Headers, map[string]string{"a": "1"}, "parent's headers")
		requireEqual(t, s.get("c").Headers, map[string]string{"b": "2"}, "child's headers")
	})

	t.Run("AbsentIsNil", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("none"), job("empty", withHeaders(map[string]string{})))
		for _, id := range []string{"none", "empty"} {
			requireEqual(t, s.get(id).Headers, map[string]string(nil), "GetJob's headers of "+id)
		}
		page := s.list(asyncmqtype.ListJobsParams{Filter: asyncmqtype.JobFilter{Queue: "default", State: asyncmqtype.StateWaiting}})
		for _, j := range page.Jobs {
			requireEqual(t, j.Headers, map[string]string(nil), "listed headers of "+j.ID)
		}
		for _, j := range s.claim(t0, 2) {
			requireEqual(t, j.Headers, map[string]string(nil), "claimed headers of "+j.ID)
		}
	})

	// Retries, stalls, bulk retries and repeatable firings keep the headers.
	t.Run("SurviveRetry", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		h := map[string]string{"traceparent": traceHeaders["traceparent"]}
		s.enqueue(job("h", withHeaders(h)))
		s.finishOK(t0, s.claimOne(t0, "h"), asyncmqtype.OutcomeRetry)
		requireEqual(t, s.requireState("h", asyncmqtype.StateWaiting).Headers, h, "headers after a retry")
		requireEqual(t, s.claimOne(at(time.Second), "h").Headers, h, "headers claimed again")
		requireRecovered(t, s.recover(at(time.Hour), 5), []string{"h"}, nil, "recover the stalled job")
		requireEqual(t, s.get("h").Headers, h, "headers after a stall")
		s.finishOK(at(time.Hour), s.claimOne(at(time.Hour), "h"), asyncmqtype.OutcomeFailed)
		requireEqual(t, s.requireState("h", asyncmqtype.StateFailed).Headers, h, "headers of the failed job")
		requireEqual(t, s.apply(asyncmqtype.ApplyParams{Action: asyncmqtype.ActionRetry, IDs: []string{"h"}, Now: at(2 * time.Hour)}), 1, "jobs retried")
		requireEqual(t, s.claimOne(at(2*time.Hour), "h").Headers, h, "headers claimed after a bulk retry")

		requireNoError(t, s.b.UpsertRepeatable(s.ctx, repeatable("r", "default")), "upsert repeatable")
		requireNoError(t, s.b.FireRepeatable(s.ctx, backend.FireParams{
			ID: "r", Expected: t0, Next: at(time.Hour), Job: job("run-1", withHeaders(h)), Now: at(time.Second),
		}), "fire")
		requireEqual(t, s.get("run-1").Headers, h, "headers of a fired job")
	})

	// Invalid headers refuse the whole call, before anything is stored.
	t.Run("InvalidRejected", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			headers map[string]string
			mention string
		}{
			{"bad name", map[string]string{"bad name": "v"}, "bad name"},
			{"control character", map[string]string{"nl": "a\nb"}, "nl"},
			{"too long", map[string]string{"big": strings.Repeat("v", backend.MaxHeaderValue+1)}, "big"},
			{"too many", manyHeaders(backend.MaxHeaders + 1), "headers"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := setup(t, newBackend)
				err := s.b.Enqueue(s.ctx, backend.EnqueueParams{Now: t0, Jobs: []*asyncmqtype.JobInfo{
					job("ok"), job("bad", withHeaders(tt.headers)),
				}})
				requireErrorIs(t, err, asyncmqtype.ErrInvalid, "enqueue with invalid headers")
				requireMentions(t, err, tt.mention)
				s.requireGone("ok")
				s.requireGone("bad")
			})
		}
	})
}

func manyHeaders(n int) map[string]string {
	h := make(map[string]string, n)
	for i := range n {
		h[fmt.Sprintf("k%d", i)] = "v"
	}
	return h
}
