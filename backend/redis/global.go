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
// On a single server the ID index lacks the sealed IDs (internal/jobid) of the jobs a plain
// enqueue stores (fastenq.go): that write cost Redis about a fifth of a bulk enqueue. Every other
// ID is indexed: IDs callers chose, fresh IDs the enqueue script stores (delayed, unique and
// dependent jobs), repeatables' jobs, and on Cluster every ID, since enqueue reserves them all
// there (the set of queues is written after the transaction on Cluster, so it may lack a queue).
// A lookup on a single server that misses the index therefore asks every known queue for the
// sealed IDs it missed (locate); the plain transaction adds its queue to the set of queues in the
// same step, so no queue holding such a job is left out. Any other ID the index lacks is no job.
//
// A caller may choose a sealed ID: one it got from NewID, or one a stored job was given. Enqueue
// and FireRepeatable on a single server look such IDs up in every queue first, unless the call
// says asyncmq made them (FreshIDs, Fresh per job, FireParams.FreshID; refuseTakenSealed: two more
// round trips, for those calls only), and refuse one a queue holds. Between that look-up and the
// enqueue no other job can take the ID: a plain enqueue stores only IDs NewID made for it, which
// nobody held before, and every other ID goes through the index, which refuses the second.

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

// queuesOf looks up the queue of each ID; unknown IDs are left out. When only is set, the jobs
// of other queues are left out too, which spares looking for unindexed IDs in them.
func (s *Store) queuesOf(ctx context.Context, ids []string, only string) (map[string][]string, []string, error) {
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
		} else if s.mayBeUnindexed(ids[i]) {
			missed = append(missed, ids[i])
		}
	}
	if len(missed) > 0 {
		found, err := s.locate(ctx, missed, only)
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
		if q == "" || (only != "" && q != only) {
			continue
		}
		if _, seen := groups[q]; !seen {
			order = append(order, q)
		}
		groups[q] = append(groups[q], ids[i])
	}
	return groups, order, nil
}

// mayBeUnindexed reports whether the job with this ID may be stored without an entry in the ID
// index (see the top of this file).
func (s *Store) mayBeUnindexed(id string) bool { return !s.cluster && jobid.Sealed(id) }

// whereScript finds jobs by ID in queues, on a single server, where a script may reach every
// queue's keys. ARGV[1] is what their names start with ("<prefix>:{"), ARGV[2] the number n of
// queues, ARGV[3..n+2] the queues and the rest the IDs. It returns each ID it found and the first
// of the queues that holds it.
var whereScript = goredis.NewScript(`#!lua flags=no-writes
local n = tonumber(ARGV[2])
local out = {}
for i = n + 3, #ARGV do
  local id = ARGV[i]
  for k = 3, n + 2 do
    local base = ARGV[1] .. ARGV[k] .. '}:'
    if redis.call('HEXISTS', base .. 'pk', id) == 1 or redis.call('EXISTS', base .. 'j:' .. id) == 1 then
      out[#out + 1] = id
      out[#out + 1] = ARGV[k]
      break
    end
  end
end
return out
`)

// locateChecks bounds the queues times IDs one whereScript call looks at, so that no call keeps
// Redis from its other clients for long (a check costs it 2 to 6 µs).
const locateChecks = 256

// locate finds the queues of jobs whose IDs the ID index may lack (see the top of this file) by
// asking the queue only, or every known queue when only is empty, in sorted order, so that a job
// found in two queues (which enqueue prevents) is always found in the same one: whereScript, in
// one pipeline of calls of at most locateChecks checks. IDs it does not find are left out. Its
// cost grows with the number of queues, but only lookups of sealed IDs that miss the index pay
// it.
func (s *Store) locate(ctx context.Context, ids []string, only string) (map[string]string, error) {
	qs := []string{only}
	if only == "" {
		var err error
		if qs, err = s.knownQueues(ctx); err != nil {
			return nil, fmt.Errorf("look up %d jobs in every queue: %w", len(ids), err)
		}
		slices.Sort(qs)
	}
	found := make(map[string]string, len(ids))
	if len(qs) == 0 {
		return found, nil
	}
	qn := min(len(qs), locateChecks)
	idn := max(1, locateChecks/qn)
	var cmds []*goredis.Cmd
	run := func(sha bool) error {
		cmds = cmds[:0]
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			// For each chunk of IDs, the chunks of queues in order: the first call to find an ID
			// found it in the first queue that holds it.
			for from := 0; from < len(ids); from += idn {
				chunk := ids[from:min(from+idn, len(ids))]
				for qf := 0; qf < len(qs); qf += qn {
					part := qs[qf:min(qf+qn, len(qs))]
					args := make([]any, 0, 2+len(part)+len(chunk))
					args = append(args, s.prefix+":{", len(part))
					for _, q := range part {
						args = append(args, q)
					}
					for _, id := range chunk {
						args = append(args, id)
					}
					if sha {
						cmds = append(cmds, whereScript.EvalSha(ctx, p, nil, args...))
					} else {
						cmds = append(cmds, whereScript.Eval(ctx, p, nil, args...))
					}
				}
			}
			return nil
		})
		return err
	}
	err := run(true)
	if isNoScript(err) {
		// Once per Redis (a restart empties its script cache): Eval loads the script again.
		err = run(false)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %d jobs in %d queues: %w", len(ids), len(qs), s.wrapRedisErr(err))
	}
	for _, c := range cmds {
		pairs := strs(c.Val())
		for i := 0; i+1 < len(pairs); i += 2 {
			if _, ok := found[pairs[i]]; !ok {
				found[pairs[i]] = pairs[i+1]
			}
		}
	}
	return found, nil
}

// refuseTakenSealed refuses the jobs of an Enqueue on a single server whose chosen IDs are sealed
// and already held by a job of any queue, which the ID index may not know (see the top of this
// file). fresh, when set, marks the jobs whose IDs asyncmq made for the call, which no job holds.
func (s *Store) refuseTakenSealed(ctx context.Context, jobs []*asyncmqtype.JobInfo, fresh []bool) error {
	var sealed []string
	for i, j := range jobs {
		if (fresh == nil || !fresh[i]) && jobid.Sealed(j.ID) {
			sealed = append(sealed, j.ID)
		}
	}
	if len(sealed) == 0 {
		return nil
	}
	found, err := s.locate(ctx, sealed, "")
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
