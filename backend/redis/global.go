package redis

import (
	"context"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	goredis "github.com/redis/go-redis/v9"
)

// The shared indexes (job ID -> queue, the set of queues) live outside every queue's slot. On a
// single server and behind Sentinel the scripts update them in the same atomic step as the
// transition. On Cluster a script cannot reach them, so the client updates them around it:
// enqueue reserves the IDs first (and gives them back when the queue refuses the jobs), and
// deletions remove them after. A crash in between leaves an ID reserved for a job that does not
// exist: GetJob then reports ErrJobNotFound and the ID cannot be reused, never a lost job.

// reserveIDs sets every ID of ARGV to the queue, or none when one is already taken.
var reserveIDs = goredis.NewScript(`
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then return ARGV[i] end
end
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
return ''
`)

func (s *Store) claimIDs(ctx context.Context, queue string, ids []string) error {
	args := make([]any, 0, len(ids)+1)
	args = append(args, queue)
	for _, id := range ids {
		args = append(args, id)
	}
	taken, err := reserveIDs.Run(ctx, s.rdb, []string{s.jobqKey()}, args...).Text()
	if err != nil {
		return fmt.Errorf("reserve job IDs in queue %q: %w", queue, s.wrapRedisErr(err))
	}
	if taken != "" {
		return fmt.Errorf("enqueue job %q: %w", taken, asyncmqtype.ErrJobExists)
	}
	return nil
}

func (s *Store) releaseIDs(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := s.rdb.HDel(ctx, s.jobqKey(), ids...).Err(); err != nil {
		s.log.Warn("asyncmq redis: release reserved job IDs", "err", err)
	}
}

// queueCreated records a queue a script has just made known (Cluster only; the scripts do it
// themselves elsewhere).
func (s *Store) queueCreated(ctx context.Context, queue string) {
	if !s.cluster {
		return
	}
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.SAdd(ctx, s.queuesKey(), queue)
		p.SAdd(ctx, s.allqKey(), queue)
		return nil
	})
	if err != nil {
		s.log.Warn("asyncmq redis: record a new queue", "queue", queue, "err", err)
	}
}

// afterDelete removes the IDs a deleting script returned (as the second element of its reply)
// from the shared ID index (Cluster only).
func (s *Store) afterDelete(ctx context.Context, v any) {
	if !s.cluster {
		return
	}
	arr, _ := v.([]any)
	if len(arr) < 2 {
		return
	}
	s.releaseIDs(ctx, strs(arr[1]))
}

// strs converts a script's array of strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// queuesOf looks up the queue of each ID; unknown IDs are left out.
func (s *Store) queuesOf(ctx context.Context, ids []string) (map[string][]string, []string, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.jobqKey(), ids...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("look up the queues of %d jobs: %w", len(ids), err)
	}
	groups := make(map[string][]string)
	var order []string
	for i, v := range vals {
		q, ok := v.(string)
		if !ok {
			continue
		}
		if _, seen := groups[q]; !seen {
			order = append(order, q)
		}
		groups[q] = append(groups[q], ids[i])
	}
	return groups, order, nil
}

// knownQueues lists the known queues, unsorted.
func (s *Store) knownQueues(ctx context.Context) ([]string, error) {
	qs, err := s.rdb.SMembers(ctx, s.queuesKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return qs, nil
}
