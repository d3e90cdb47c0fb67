package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// Metrics are per-queue, per-minute hashes (s started, ws wait ns, c completed, f failed, r
// retried, ds duration ns, d0..d13 the run time histogram), written by the transition scripts
// and listed in the queue's minute index. Beside each, a per-task hash of the same minute holds
// the same counters under fields named task, \x1f, counter: one more HINCRBY per counter and
// task in the script, and a per-queue read never reads it. Each bucket expires eight days after
// its minute first counted something, and the index keeps at most eight days of minutes.

// Metrics returns per-minute counter buckets between Since and Until.
func (s *Store) Metrics(ctx context.Context, p asyncmqtype.MetricsParams) ([]asyncmqtype.MetricBucket, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	queues := []string{p.Queue}
	if p.Queue == "" {
		var err error
		if queues, err = s.rdb.SMembers(ctx, s.allqKey()).Result(); err != nil {
			return nil, fmt.Errorf("read metrics: list queues: %w", err)
		}
		if s.cluster {
			// Queues made known by a script are recorded by the client after it; include the
			// known ones too in case that step was lost.
			known, _ := s.knownQueues(ctx)
			queues = slices.Compact(slices.Sorted(slices.Values(append(queues, known...))))
		}
	}
	min := "-inf"
	if !p.Since.IsZero() {
		min = strconv.FormatInt(p.Since.Truncate(time.Minute).UnixMicro(), 10)
	}
	max := "+inf"
	if !p.Until.IsZero() {
		max = strconv.FormatInt(p.Until.UnixMicro(), 10)
	}
	minutes := make([]*goredis.StringSliceCmd, len(queues))
	_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		for i, q := range queues {
			minutes[i] = pl.ZRangeByScore(ctx, s.queueKeys(q).metricIndex(), &goredis.ZRangeBy{Min: min, Max: max})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	type ref struct {
		queue, minute string
	}
	var refs []ref
	for i, c := range minutes {
		for _, m := range c.Val() {
			refs = append(refs, ref{queues[i], m})
		}
	}
	perTask := p.PerTask()
	cmds := make([]*goredis.MapStringStringCmd, len(refs))
	_, err = s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		for i, r := range refs {
			key := s.queueKeys(r.queue).metric(r.minute)
			if perTask {
				key = s.queueKeys(r.queue).metricTasks(r.minute)
			}
			cmds[i] = pl.HGetAll(ctx, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var out []asyncmqtype.MetricBucket
	for i, r := range refs {
		f := cmds[i].Val()
		if !perTask {
			if len(f) > 0 { // else expired
				out = append(out, metricBucket(r.queue, "", r.minute, f))
			}
			continue
		}
		// Split task SEP counter fields into one field map per task.
		tasks := make(map[string]map[string]string)
		for k, v := range f {
			// Counter names never hold the separator; a task name might.
			cut := strings.LastIndexByte(k, 0x1f)
			if cut < 0 {
				continue
			}
			task, counter := k[:cut], k[cut+1:]
			if p.Task != "" && task != p.Task {
				continue
			}
			if tasks[task] == nil {
				tasks[task] = make(map[string]string)
			}
			tasks[task][counter] = v
		}
		for task, tf := range tasks {
			out = append(out, metricBucket(r.queue, task, r.minute, tf))
		}
	}
	if perTask {
		return backend.TopTaskBuckets(out, asyncmqtype.MetricTasksLimit), nil
	}
	slices.SortFunc(out, backend.CompareBuckets)
	return out, nil
}

// metricBucket decodes the counters of one bucket hash (or one task's fields of it).
func metricBucket(queue, task, minute string, f map[string]string) asyncmqtype.MetricBucket {
	n := func(k string) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	b := asyncmqtype.MetricBucket{
		Queue: queue, Task: task, Minute: fromMicros(minute), Completed: n("c"), Failed: n("f"), Retried: n("r"),
		DurationSum: time.Duration(n("ds")), WaitSum: time.Duration(n("ws")), Started: n("s"),
		DurationCounts: make([]int64, len(asyncmqtype.DurationBuckets)+1),
	}
	for k := range b.DurationCounts {
		b.DurationCounts[k] = n("d" + strconv.Itoa(k))
	}
	return b
}
