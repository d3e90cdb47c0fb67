package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// hist returns the run time histogram of a bucket that counted one run of each duration.
func hist(durations ...time.Duration) []int64 {
	h := make([]int64, len(asyncmqtype.DurationBuckets)+1)
	for _, d := range durations {
		h[asyncmqtype.DurationBucket(d)]++
	}
	return h
}

func testMetrics(t *testing.T, newBackend factory) {
	// activity fills three minutes of queue "default" and one of queue "q2".
	activity := func(s *bundle) {
		s.enqueue(job("a", withPriority(1)), job("b", withPriority(2)), job("c", withPriority(3)), job("d", withPriority(4)))
		s.enqueue(job("other", inQueue("q2")))
		jobs := s.claim(at(10*time.Second), 3) // waited 10s each
		s.claim(at(20*time.Second), 1, "q2")
		s.finishOK(at(70*time.Second), jobs[0], asyncmqtype.OutcomeCompleted, func(f *backend.Finish) { f.Duration = 2 * time.Second })
		s.finishOK(at(75*time.Second), jobs[1], asyncmqtype.OutcomeFailed, func(f *backend.Finish) { f.Duration = 3 * time.Second })
		s.finishOK(at(80*time.Second), jobs[2], asyncmqtype.OutcomeRetry, func(f *backend.Finish) {
			f.Duration = 4 * time.Second
			f.RetryDelay = 5*time.Minute - 80*time.Second
		})
		s.claimOne(at(130*time.Second), "d") // waited 130s
		// A retried job waits from the end of its retry delay, not from its creation.
		s.promote(at(5 * time.Minute))
		s.claimOne(at(5*time.Minute+30*time.Second), "c")
	}
	minute := func(m int) time.Time { return at(time.Duration(m) * time.Minute) }
	want := map[string][]asyncmqtype.MetricBucket{
		"default": {
			{Queue: "default", Minute: minute(0), Started: 3, WaitSum: 30 * time.Second, DurationCounts: hist()},
			// The retried attempt's 4s is in neither the sum nor the histogram.
			{Queue: "default", Minute: minute(1), Completed: 1, Failed: 1, Retried: 1, DurationSum: 5 * time.Second, DurationCounts: hist(2*time.Second, 3*time.Second)},
			{Queue: "default", Minute: minute(2), Started: 1, WaitSum: 130 * time.Second, DurationCounts: hist()},
			{Queue: "default", Minute: minute(5), Started: 1, WaitSum: 30 * time.Second, DurationCounts: hist()},
		},
		"q2": {{Queue: "q2", Minute: minute(0), Started: 1, WaitSum: 20 * time.Second, DurationCounts: hist()}},
	}

	t.Run("Buckets", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		activity(s)
		all := []asyncmqtype.MetricBucket{want["default"][0], want["q2"][0], want["default"][1], want["default"][2], want["default"][3]}
		tests := []struct {
			name string
			p    asyncmqtype.MetricsParams
			want []asyncmqtype.MetricBucket
		}{
			{"one queue", asyncmqtype.MetricsParams{Queue: "default"}, want["default"]},
			{"every queue, by minute then queue", asyncmqtype.MetricsParams{}, all},
			{"since truncates to the minute", asyncmqtype.MetricsParams{Queue: "default", Since: minute(1).Add(30 * time.Second)}, want["default"][1:]},
			{"until is inclusive", asyncmqtype.MetricsParams{Queue: "default", Since: minute(0), Until: minute(1)}, want["default"][:2]},
			{"since and until", asyncmqtype.MetricsParams{Queue: "default", Since: minute(2), Until: minute(4)}, want["default"][2:3]},
			{"until before the minute", asyncmqtype.MetricsParams{Queue: "default", Until: minute(1).Add(-time.Second)}, want["default"][:1]},
			{"unknown queue", asyncmqtype.MetricsParams{Queue: "nope"}, nil},
		}
		for _, tt := range tests {
			got, err := s.b.Metrics(s.ctx, tt.p)
			requireNoError(t, err, "read metrics")
			requireBuckets(t, got, tt.want, tt.name)
		}
	})

	t.Run("QuietMinutesHaveNoBucket", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		j := s.claimOne(t0, "a")
		s.finishOK(at(time.Minute), j, asyncmqtype.OutcomeCancelled)
		got, err := s.b.Metrics(s.ctx, asyncmqtype.MetricsParams{Queue: "default"})
		requireNoError(t, err, "read metrics")
		requireBuckets(t, got, []asyncmqtype.MetricBucket{{Queue: "default", Minute: minute(0), Started: 1, DurationCounts: hist()}}, "after a cancelled attempt")
	})

	t.Run("StalledFailureCounts", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a"))
		s.claimOne(t0, "a")
		s.recover(at(time.Minute), 0)
		got, err := s.b.Metrics(s.ctx, asyncmqtype.MetricsParams{Queue: "default", Since: minute(1)})
		requireNoError(t, err, "read metrics")
		requireBuckets(t, got, []asyncmqtype.MetricBucket{{Queue: "default", Minute: minute(1), Failed: 1, DurationCounts: hist()}}, "after a stalled job failed")
	})

	// Each bound is inclusive: a run of exactly 5ms is in the first bucket, one a nanosecond
	// longer in the second; runs past the last bound are in the extra bucket.
	t.Run("DurationHistogram", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		first, last := asyncmqtype.DurationBuckets[0], asyncmqtype.DurationBuckets[len(asyncmqtype.DurationBuckets)-1]
		durations := []time.Duration{0, first, first + 1, last, last + 1, time.Hour}
		var ids []string
		for i := range durations {
			ids = append(ids, fmt.Sprint("h", i))
			s.enqueue(job(ids[i]))
		}
		for i, d := range durations {
			j := s.claimOne(t0, ids[i])
			outcome := asyncmqtype.OutcomeCompleted
			if i%2 == 1 {
				outcome = asyncmqtype.OutcomeFailed
			}
			s.finishOK(at(time.Second), j, outcome, func(f *backend.Finish) { f.Duration = d })
		}
		got, err := s.b.Metrics(s.ctx, asyncmqtype.MetricsParams{Queue: "default"})
		requireNoError(t, err, "read metrics")
		want := make([]int64, len(asyncmqtype.DurationBuckets)+1)
		want[0], want[1], want[len(want)-2], want[len(want)-1] = 2, 1, 1, 2
		var sum time.Duration
		for _, d := range durations {
			sum += d
		}
		requireBuckets(t, got, []asyncmqtype.MetricBucket{{Queue: "default", Minute: minute(0), Completed: 3, Failed: 3, Started: 6, DurationSum: sum, DurationCounts: want}}, "after runs on the bounds")
	})
}

func requireBuckets(t *testing.T, got, want []asyncmqtype.MetricBucket, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d buckets %+v, want %d %+v", what, len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		requireTime(t, g.Minute, w.Minute, what+": Minute")
		g.Minute, w.Minute = time.Time{}, time.Time{}
		requireEqual(t, g, w, what)
	}
}
