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
	// Two tasks of one queue, and one of them in a second queue: each counter lands in its
	// task's bucket, and the per-task buckets of a queue and minute add up to its bucket.
	t.Run("ByTask", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		s.enqueue(job("a1", withTask("fast"), withPriority(1)), job("a2", withTask("fast"), withPriority(2)),
			job("b1", withTask("slow"), withPriority(3)), job("b2", withTask("slow"), withPriority(4)),
			job("b3", withTask("slow"), withPriority(5)), job("c1", withTask("fast"), inQueue("q2")))
		jobs := s.claim(at(10*time.Second), 5, "default") // waited 10s each
		c1 := s.claim(at(20*time.Second), 1, "q2")[0]
		dur := func(d time.Duration) func(*backend.Finish) { return func(f *backend.Finish) { f.Duration = d } }
		s.finishOK(at(30*time.Second), jobs[0], asyncmqtype.OutcomeCompleted, dur(3*time.Millisecond))
		s.finishOK(at(30*time.Second), jobs[1], asyncmqtype.OutcomeFailed, dur(40*time.Millisecond))
		s.finishOK(at(30*time.Second), jobs[2], asyncmqtype.OutcomeCompleted, dur(2*time.Second))
		s.finishOK(at(30*time.Second), jobs[3], asyncmqtype.OutcomeRetry, func(f *backend.Finish) {
			f.Duration, f.RetryDelay = time.Second, time.Hour
		})
		s.finishOK(at(30*time.Second), c1, asyncmqtype.OutcomeCompleted, dur(7*time.Millisecond))
		s.recover(at(70*time.Second), 0) // b3's lease ran out: a failure of "slow" in minute 1

		fast := asyncmqtype.MetricBucket{Queue: "default", Task: "fast", Minute: minute(0), Started: 2, WaitSum: 20 * time.Second,
			Completed: 1, Failed: 1, DurationSum: 43 * time.Millisecond, DurationCounts: hist(3*time.Millisecond, 40*time.Millisecond)}
		slow := asyncmqtype.MetricBucket{Queue: "default", Task: "slow", Minute: minute(0), Started: 3, WaitSum: 30 * time.Second,
			Completed: 1, Retried: 1, DurationSum: 2 * time.Second, DurationCounts: hist(2 * time.Second)}
		q2fast := asyncmqtype.MetricBucket{Queue: "q2", Task: "fast", Minute: minute(0), Started: 1, WaitSum: 20 * time.Second,
			Completed: 1, DurationSum: 7 * time.Millisecond, DurationCounts: hist(7 * time.Millisecond)}
		stalled := asyncmqtype.MetricBucket{Queue: "default", Task: "slow", Minute: minute(1), Failed: 1, DurationCounts: hist()}
		tests := []struct {
			name string
			p    asyncmqtype.MetricsParams
			want []asyncmqtype.MetricBucket
		}{
			{"every queue", asyncmqtype.MetricsParams{ByTask: true}, []asyncmqtype.MetricBucket{fast, slow, q2fast, stalled}},
			{"one queue", asyncmqtype.MetricsParams{ByTask: true, Queue: "default"}, []asyncmqtype.MetricBucket{fast, slow, stalled}},
			{"since", asyncmqtype.MetricsParams{ByTask: true, Since: minute(1)}, []asyncmqtype.MetricBucket{stalled}},
			{"task implies by task", asyncmqtype.MetricsParams{Task: "fast"}, []asyncmqtype.MetricBucket{fast, q2fast}},
			{"task and queue", asyncmqtype.MetricsParams{Task: "fast", Queue: "q2"}, []asyncmqtype.MetricBucket{q2fast}},
			{"task until", asyncmqtype.MetricsParams{Task: "slow", Until: minute(0)}, []asyncmqtype.MetricBucket{slow}},
			{"unknown task", asyncmqtype.MetricsParams{Task: "nope"}, nil},
		}
		for _, tt := range tests {
			got, err := s.b.Metrics(s.ctx, tt.p)
			requireNoError(t, err, "read metrics by task")
			requireBuckets(t, got, tt.want, tt.name)
		}

		perQueue, err := s.b.Metrics(s.ctx, asyncmqtype.MetricsParams{})
		requireNoError(t, err, "read metrics")
		byTask, err := s.b.Metrics(s.ctx, asyncmqtype.MetricsParams{ByTask: true})
		requireNoError(t, err, "read metrics by task")
		var summed []asyncmqtype.MetricBucket
		for _, b := range byTask {
			n := len(summed)
			if n == 0 || !summed[n-1].Minute.Equal(b.Minute) || summed[n-1].Queue != b.Queue {
				summed = append(summed, asyncmqtype.MetricBucket{Queue: b.Queue, Minute: b.Minute, DurationCounts: hist()})
				n++
			}
			sum := &summed[n-1]
			sum.Started += b.Started
			sum.WaitSum += b.WaitSum
			sum.Completed += b.Completed
			sum.Failed += b.Failed
			sum.Retried += b.Retried
			sum.DurationSum += b.DurationSum
			for i, c := range b.DurationCounts {
				sum.DurationCounts[i] += c
			}
		}
		requireBuckets(t, perQueue, summed, "per-queue buckets against the sum of their tasks")
	})

	// A queue with more task names than MetricTasksLimit answers for the busiest ones only.
	t.Run("ByTaskKeepsTheBusiestTasks", func(t *testing.T) {
		t.Parallel()
		s := setup(t, newBackend)
		n := asyncmqtype.MetricTasksLimit + 1
		var jobs []*asyncmqtype.JobInfo
		for i := range n {
			jobs = append(jobs, job(fmt.Sprintf("j%03d", i), withTask(fmt.Sprintf("t%03d", i))))
		}
		// The last task runs twice, so it ranks first; of the rest, ties go by name and the
		// last name is left out.
		jobs = append(jobs, job("again", withTask(fmt.Sprintf("t%03d", n-1))))
		s.enqueue(jobs...)
		if got := s.claim(t0, n+1); len(got) != n+1 {
			t.Fatalf("claimed %d jobs, want %d", len(got), n+1)
		}
		got, err := s.b.Metrics(s.ctx, asyncmqtype.MetricsParams{ByTask: true, Queue: "default"})
		requireNoError(t, err, "read metrics by task")
		if len(got) != asyncmqtype.MetricTasksLimit {
			t.Fatalf("got %d buckets, want %d", len(got), asyncmqtype.MetricTasksLimit)
		}
		seen := make(map[string]int64)
		for _, b := range got {
			seen[b.Task] = b.Started
		}
		if seen[fmt.Sprintf("t%03d", n-1)] != 2 {
			t.Errorf("busiest task: started %d, want 2 (buckets %+v)", seen[fmt.Sprintf("t%03d", n-1)], got)
		}
		if _, ok := seen[fmt.Sprintf("t%03d", n-2)]; ok {
			t.Errorf("task t%03d is in the answer, want it left out as the last of the ties", n-2)
		}
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
