package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// claimLookahead is how many ready members past the limit a claim examines for jobs whose
// run-at is still ahead (a job enqueued by a process with a fast clock): such jobs are skipped,
// and more than this many of them at the head of a queue delay the claim of the ones behind.
const claimLookahead = 32

// Lease tokens are 16 random hex digits, a counter within the claim, ":" and the queue's name,
// so calls that carry a token (Finish, Heartbeat, Release, SetProgress) find the job's queue
// without a lookup.
func tokenPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func queueOfToken(token string) (string, bool) {
	if len(token) < 18 {
		return "", false
	}
	_, q, ok := strings.Cut(token[16:], ":")
	return q, ok
}

// Claim takes up to Limit runnable jobs in one script call per queue.
func (s *Store) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	switch {
	case len(p.Queues) == 0:
		return nil, invalid("claim: no queues")
	case p.Limit < 1:
		return nil, invalid("claim: limit %d < 1", p.Limit)
	case p.LeaseDuration <= 0:
		return nil, invalid("claim: lease duration %s <= 0", p.LeaseDuration)
	}
	if len(p.Queues) == 1 {
		v, err := s.eval(ctx, s.claimCall(p.Queues[0], p, p.Limit))
		if err != nil {
			return nil, fmt.Errorf("claim from queue %q: %w", p.Queues[0], err)
		}
		return claimedJobs(p.Queues[0], v)
	}
	return s.claimAcross(ctx, p)
}

func (s *Store) claimCall(queue string, p backend.ClaimParams, limit int) call {
	return s.queueCall(scriptClaim, queue, p.Now, nil,
		limit, p.LeaseDuration.Microseconds(), p.WorkerID, tokenPrefix(), claimLookahead)
}

func claimedJobs(queue string, v any) ([]*asyncmqtype.JobInfo, error) {
	arr, _ := v.([]any)
	out := make([]*asyncmqtype.JobInfo, 0, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		id, _ := arr[i].(string)
		j, err := decodeJob(id, queue, pairs(arr[i+1]))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// claimAcross claims from several queues in the order priority, run-at, ID across all of them:
// it reads the head of each queue's ready set (whose members sort in exactly that order), picks
// the best Limit, and claims that many from each queue, all in one pipeline. A concurrent claim
// may take some of the picked jobs first; the next ones of the same queue are taken instead.
func (s *Store) claimAcross(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	type head struct {
		member, queue string
	}
	queues := slices.Compact(slices.Sorted(slices.Values(p.Queues)))
	metas := make([]*goredis.SliceCmd, len(queues))
	heads := make([]*goredis.StringSliceCmd, len(queues))
	_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		for i, q := range queues {
			k := s.queueKeys(q)
			metas[i] = pl.HMGet(ctx, k.meta(), "pz", "rl", "ri", "rs", "rc")
			heads[i] = pl.ZRange(ctx, k.ready(), 0, int64(p.Limit+claimLookahead-1))
		}
		return nil
	})
	if err != nil && err != goredis.Nil {
		return nil, fmt.Errorf("claim: read queue heads: %w", err)
	}
	var all []head
	now := p.Now.UnixMicro()
	for i, q := range queues {
		allowed := claimAllowance(metas[i].Val(), p)
		for _, m := range heads[i].Val() {
			if allowed == 0 {
				break
			}
			if len(m) > 28 && (p.Now.IsZero() || parseMicros(m[11:28]) <= now) {
				all = append(all, head{m, q})
				allowed--
			}
		}
	}
	slices.SortFunc(all, func(a, b head) int { return strings.Compare(a.member, b.member) })
	per := map[string]int{}
	for _, h := range all[:min(len(all), p.Limit)] {
		per[h.queue]++
	}
	var calls []call
	var names []string
	for _, q := range queues {
		if n := per[q]; n > 0 {
			calls = append(calls, s.claimCall(q, p, n))
			names = append(names, q)
		}
	}
	if len(calls) == 0 {
		return nil, nil
	}
	var out []*asyncmqtype.JobInfo
	for i, r := range s.evalMany(ctx, calls) {
		if r.err != nil {
			return out, fmt.Errorf("claim from queue %q: %w", names[i], r.err)
		}
		jobs, err := claimedJobs(names[i], r.val)
		if err != nil {
			return out, err
		}
		out = append(out, jobs...)
	}
	slices.SortFunc(out, func(a, b *asyncmqtype.JobInfo) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func parseMicros(s string) int64 {
	var n int64
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n = n*10 + int64(c-'0')
		}
	}
	return n
}

// claimAllowance is how many jobs a queue may give now, from its meta fields pz, rl, ri, rs, rc
// (-1: no limit). With a zero Now the open window is assumed still open.
func claimAllowance(meta []any, p backend.ClaimParams) int {
	str := func(i int) string { v, _ := meta[i].(string); return v }
	if str(0) == "1" {
		return 0
	}
	rl := atoi(str(1))
	if rl <= 0 {
		return -1
	}
	if str(3) == "" || (!p.Now.IsZero() && p.Now.UnixMicro() >= parseMicros(str(3))+parseMicros(str(2))) {
		return rl
	}
	return max(rl-atoi(str(4)), 0)
}
