package backend

import (
	"cmp"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TopTaskBuckets keeps the per-task buckets of the limit (queue, task) pairs with the most
// attempts (Started+Completed+Failed+Retried) over all of buckets, ties by queue then task, and
// sorts them by Minute, Queue then Task. Stores that cannot rank in their query use it to apply
// asyncmqtype.MetricTasksLimit; buckets is reordered in place.
func TopTaskBuckets(buckets []asyncmqtype.MetricBucket, limit int) []asyncmqtype.MetricBucket {
	type pair struct{ queue, task string }
	total := make(map[pair]int64)
	for _, b := range buckets {
		total[pair{b.Queue, b.Task}] += b.Started + b.Completed + b.Failed + b.Retried
	}
	if len(total) > limit {
		pairs := make([]pair, 0, len(total))
		for p := range total {
			pairs = append(pairs, p)
		}
		slices.SortFunc(pairs, func(x, y pair) int {
			return cmp.Or(cmp.Compare(total[y], total[x]), strings.Compare(x.queue, y.queue), strings.Compare(x.task, y.task))
		})
		keep := make(map[pair]bool, limit)
		for _, p := range pairs[:limit] {
			keep[p] = true
		}
		buckets = slices.DeleteFunc(buckets, func(b asyncmqtype.MetricBucket) bool { return !keep[pair{b.Queue, b.Task}] })
	}
	slices.SortFunc(buckets, CompareBuckets)
	return buckets
}

// CompareBuckets orders metric buckets by Minute, Queue then Task, the order Metrics returns.
func CompareBuckets(x, y asyncmqtype.MetricBucket) int {
	return cmp.Or(x.Minute.Compare(y.Minute), strings.Compare(x.Queue, y.Queue), strings.Compare(x.Task, y.Task))
}
