package redis

import (
	"context"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	goredis "github.com/redis/go-redis/v9"
)

// The lane. A waiting job is claimed in the order of its ready member (priority, then run-at,
// then ID) and listed in the order of its s:waiting member (created-at, then ID): two sorted-set
// writes at its enqueue and two removals at its claim. For most jobs the two orders are one: a
// job of the default priority that is due when it is made has run-at equal to created-at. Such a
// job goes instead to the queue's lane, one sorted set by created-at, which serves for both:
//
//   - a claim reads the lane's due jobs beside the ready set's members and merges them in by the
//     member each would have had (lane_first in claim_jobs.lua), so jobs are claimed in the same
//     order as if the lane did not exist;
//   - the waiting listing and count join the lane and s:waiting (waitingPage), which hold
//     distinct jobs, by created-at and ID, as s:waiting alone listed them before.
//
// A job leaves the lane when it leaves the waiting state: claimed (claim_jobs.lua), or moved or
// deleted (move and deljob in prelude.lua). One whose record a claim cannot read stays waiting in
// s:waiting, as it would have. A job comes back waiting (a retry, a release, a stall) through
// s:waiting and the ready set, as every job did before: only an enqueue puts a job in the lane
// (enqueue_write in enqueue_lib.lua, and queuePlain).
//
// The ready set's sorted-set write was a third of the Redis time of a bulk enqueue
// (BenchmarkEnqueueBulk), and of its memory per waiting job.

// lanePriority is the priority of the lane's jobs: asyncmq.DefaultPriority, which most jobs
// have (LANE_PR in prelude.lua).
const lanePriority = 5

// inLane reports whether waiting job j goes to the lane: of lanePriority, due at its creation (to
// the microsecond, as the scores hold times), and after 1970, as the ready member clamps earlier
// run-ats to zero.
func inLane(j *asyncmqtype.JobInfo) bool {
	if j.Priority != lanePriority {
		return false
	}
	ra := j.RunAt.UnixMicro()
	return ra > 0 && ra == j.CreatedAt.UnixMicro()
}

// waitingPageScript returns {total, IDs} of the waiting jobs of a queue from rank ARGV[1] to
// ARGV[2] (inclusive) in listing order, newest first when ARGV[3] is '1': KEYS[1] is s:waiting,
// KEYS[2] the lane. Both are ordered by created-at, then ID, and hold distinct jobs, so the rank
// of a job in the two together splits between them at one point, which a binary search finds in
// O(log² n) reads of one member; the page is then merged from the two from there.
var waitingPageScript = goredis.NewScript("#!lua flags=no-writes\n" + readLua("order") + readLua("waiting_page"))

// waitingPage returns the count of the waiting jobs of queue and the IDs of those from rank start
// to stop (inclusive) in listing order (newest first when rev).
func (s *Store) waitingPage(ctx context.Context, queue string, start, stop int64, rev bool) (int, []string, error) {
	k := s.queueKeys(queue)
	r := "0"
	if rev {
		r = "1"
	}
	v, err := waitingPageScript.Run(ctx, s.rdb, []string{k.state(asyncmqtype.StateWaiting.Index()), k.lane()}, start, stop, r).Result()
	if err != nil {
		return 0, nil, fmt.Errorf("list the waiting jobs of queue %q: %w", queue, err)
	}
	out, ok := v.([]any)
	if !ok || len(out) == 0 {
		return 0, nil, fmt.Errorf("list the waiting jobs of queue %q: unexpected reply %T", queue, v)
	}
	total, _ := out[0].(int64)
	ids := make([]string, 0, len(out)-1)
	for _, x := range out[1:] {
		id, _ := x.(string)
		ids = append(ids, id)
	}
	return int(total), ids, nil
}
