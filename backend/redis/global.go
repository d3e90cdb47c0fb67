package redis

import (
	"context"
	"fmt"
	"slices"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/internal/jobid"
	goredis "github.com/redis/go-redis/v9"
)

// The shared indexes (job ID -> queue, the set of queues) live outside every queue's slot. On a
// single server and behind Sentinel the scripts update them in the same atomic step as the
// transition. On Cluster a script cannot reach them, so the client updates them around it:
// enqueue reserves the IDs first (and gives them back when the queue refuses the jobs), and
// deletions remove them after. A crash in between leaves an ID reserved for a job that does not
// exist: GetJob then reports ErrJobNotFound and the ID cannot be reused, never a lost job.
//
// The ID index holds the IDs callers chose, not every ID asyncmq made: a plain enqueue
// (fastenq.go), and on Cluster any enqueue of FreshIDs, leaves them out. That index was one of the
// four structures a plain job writes, and its write cost Redis about a fifth of a bulk enqueue.
// An ID asyncmq made is sealed (internal/jobid), so a lookup that misses the index asks every
// known queue for the sealed IDs it missed (locate), and an unsealed ID is known to be absent.
// A caller may still choose an ID asyncmq made (enqueue again the ID a job was given, say): an
// Enqueue with chosen IDs that are sealed looks them up in every queue first, so that no two
// queues hold one ID. A sealed ID can only be made by NewID, or chosen by a caller who read it
// from a stored job, so no job with that ID can be stored between the look-up and the enqueue
// except one with a chosen ID, which the index itself refuses.

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
	queueOf := make([]string, len(ids))
	var missed []string
	for i, v := range vals {
		if q, ok := v.(string); ok {
			queueOf[i] = q
		} else if jobid.Sealed(ids[i]) {
			missed = append(missed, ids[i])
		}
	}
	if len(missed) > 0 {
		found, err := s.locate(ctx, missed)
		if err != nil {
			return nil, nil, err
		}
		for i, id := range ids {
			if queueOf[i] == "" {
				queueOf[i] = found[id]
			}
		}
	}
	groups := make(map[string][]string)
	var order []string
	for i, q := range queueOf {
		if q == "" {
			continue
		}
		if _, seen := groups[q]; !seen {
			order = append(order, q)
		}
		groups[q] = append(groups[q], ids[i])
	}
	return groups, order, nil
}

// whereScript returns the IDs of ARGV[2:] that are jobs of the queue whose packed hash is
// KEYS[1] and whose job hashes start with ARGV[1].
var whereScript = goredis.NewScript(`#!lua flags=no-writes
local out = {}
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 or redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 1 then
    out[#out + 1] = ARGV[i]
  end
end
return out
`)

// locate finds the queues of jobs whose IDs the ID index may lack (sealed IDs; see the top of
// this file) by asking every known queue, in one pipeline: one script call per queue. IDs it does
// not find are left out. The cost grows with the number of queues, but only lookups of such IDs
// that miss the index pay it.
func (s *Store) locate(ctx context.Context, ids []string) (map[string]string, error) {
	qs, err := s.knownQueues(ctx)
	if err != nil {
		return nil, fmt.Errorf("look up %d jobs in every queue: %w", len(ids), err)
	}
	// In a fixed order, so that a job found in two queues (which enqueue prevents) is always
	// found in the same one.
	slices.Sort(qs)
	args := make([]any, 0, len(ids)+1)
	args = append(args, "")
	for _, id := range ids {
		args = append(args, id)
	}
	cmds := make([]*goredis.Cmd, len(qs))
	run := func(sha bool) error {
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, q := range qs {
				k := s.queueKeys(q)
				a := slices.Clone(args)
				a[0] = k.base + "j:"
				if sha {
					cmds[i] = whereScript.EvalSha(ctx, p, []string{k.packed()}, a...)
				} else {
					cmds[i] = whereScript.Eval(ctx, p, []string{k.packed()}, a...)
				}
			}
			return nil
		})
		return err
	}
	err = run(true)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// Once per Redis (a restart empties its script cache): Eval loads the script again.
		err = run(false)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %d jobs in %d queues: %w", len(ids), len(qs), s.wrapRedisErr(err))
	}
	found := make(map[string]string, len(ids))
	for i, c := range cmds {
		for _, id := range strs(c.Val()) {
			if _, ok := found[id]; !ok {
				found[id] = qs[i]
			}
		}
	}
	return found, nil
}

// refuseTakenSealed refuses the jobs of an Enqueue whose chosen IDs are sealed and already held
// by a job of any queue, which the ID index may not know (see the top of this file).
func (s *Store) refuseTakenSealed(ctx context.Context, jobs []*asyncmqtype.JobInfo) error {
	var sealed []string
	for _, j := range jobs {
		if jobid.Sealed(j.ID) {
			sealed = append(sealed, j.ID)
		}
	}
	if len(sealed) == 0 {
		return nil
	}
	found, err := s.locate(ctx, sealed)
	if err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(jobs), err)
	}
	for _, id := range sealed {
		if _, ok := found[id]; ok {
			return fmt.Errorf("enqueue job %q: %w", id, asyncmqtype.ErrJobExists)
		}
	}
	return nil
}

// knownQueues lists the known queues, unsorted.
func (s *Store) knownQueues(ctx context.Context) ([]string, error) {
	qs, err := s.rdb.SMembers(ctx, s.queuesKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return qs, nil
}
