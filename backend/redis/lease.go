package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// byQueue groups leases by the queue their token names; leases whose token names none are lost.
func byQueue(leases []backend.Lease) (map[string][]any, []string, []string) {
	groups := map[string][]any{}
	var order, lost []string
	for _, l := range leases {
		q, ok := queueOfToken(l.LeaseToken)
		if !ok {
			lost = append(lost, l.JobID)
			continue
		}
		if _, seen := groups[q]; !seen {
			order = append(order, q)
		}
		groups[q] = append(groups[q], l.JobID, l.LeaseToken)
	}
	return groups, order, lost
}

// Heartbeat extends leases with one script call per queue and refreshes the worker record.
func (s *Store) Heartbeat(ctx context.Context, p backend.HeartbeatParams) (backend.HeartbeatResult, error) {
	var res backend.HeartbeatResult
	if err := s.guard(ctx); err != nil {
		return res, err
	}
	if err := p.Validate(); err != nil {
		return res, err
	}
	if err := s.saveWorker(ctx, p.Worker, p.Now); err != nil {
		return res, err
	}
	groups, order, lost := byQueue(p.Leases)
	res.Lost = lost
	calls := make([]call, len(order))
	for i, q := range order {
		calls[i] = s.queueCall(scriptExtend, q, p.Now, nil, append([]any{p.LeaseDuration.Microseconds()}, groups[q]...)...)
	}
	for i, r := range s.evalMany(ctx, calls) {
		if r.err != nil {
			return res, fmt.Errorf("heartbeat of worker %q: extend leases in queue %q: %w", p.Worker.ID, order[i], r.err)
		}
		arr, _ := r.val.([]any)
		if len(arr) == 2 {
			res.Lost = append(res.Lost, strs(arr[0])...)
			res.Cancelled = append(res.Cancelled, strs(arr[1])...)
		}
	}
	return res, nil
}

func (s *Store) saveWorker(ctx context.Context, w asyncmqtype.WorkerInfo, now time.Time) error {
	if now.IsZero() {
		now = time.Now()
	}
	info, started, hb := s.workerKeys()
	startedAt := w.StartedAt
	w.StartedAt, w.LastHeartbeat = time.Time{}, time.Time{}
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("encode worker %q: %w", w.ID, err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if startedAt.IsZero() {
			p.HSetNX(ctx, started, w.ID, micros(now))
		} else {
			p.HSet(ctx, started, w.ID, micros(startedAt))
		}
		p.HSet(ctx, info, w.ID, b)
		p.ZAdd(ctx, hb, goredis.Z{Score: float64(now.UnixMicro()), Member: w.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("save worker %q: %w", w.ID, s.wrapRedisErr(err))
	}
	return nil
}

// Workers lists worker records, newest heartbeat first.
func (s *Store) Workers(ctx context.Context) ([]asyncmqtype.WorkerInfo, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	info, started, hb := s.workerKeys()
	zs, err := s.rdb.ZRevRangeWithScores(ctx, hb, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	if len(zs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
	}
	var infos, starts *goredis.SliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		infos = p.HMGet(ctx, info, ids...)
		starts = p.HMGet(ctx, started, ids...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	out := make([]asyncmqtype.WorkerInfo, 0, len(ids))
	for i, v := range infos.Val() {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var w asyncmqtype.WorkerInfo
		if err := json.Unmarshal([]byte(str), &w); err != nil {
			return nil, fmt.Errorf("decode worker %q: %w", ids[i], err)
		}
		if st, ok := starts.Val()[i].(string); ok {
			w.StartedAt = fromMicros(st)
		}
		w.LastHeartbeat = time.UnixMicro(int64(zs[i].Score)).UTC()
		out = append(out, w)
	}
	return out, nil
}

// RemoveWorker deletes a worker record.
func (s *Store) RemoveWorker(ctx context.Context, id string) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	info, started, hb := s.workerKeys()
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.HDel(ctx, info, id)
		p.HDel(ctx, started, id)
		p.ZRem(ctx, hb, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove worker %q: %w", id, err)
	}
	return nil
}

// Release returns jobs to waiting, one script call per queue.
func (s *Store) Release(ctx context.Context, p backend.ReleaseParams) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	groups, order, _ := byQueue(p.Leases)
	calls := make([]call, len(order))
	for i, q := range order {
		calls[i] = s.queueCall(scriptRelease, q, p.Now, nil, groups[q]...)
	}
	for i, r := range s.evalMany(ctx, calls) {
		if r.err != nil {
			return fmt.Errorf("release jobs of queue %q: %w", order[i], r.err)
		}
	}
	return nil
}

// SetProgress stores a progress report under the job's lease.
func (s *Store) SetProgress(ctx context.Context, p backend.ProgressParams) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	q, ok := queueOfToken(p.Lease.LeaseToken)
	if !ok {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, asyncmqtype.ErrLeaseLost)
	}
	v, err := s.eval(ctx, s.queueCall(scriptProgress, q, time.Time{}, nil, p.Lease.JobID, p.Lease.LeaseToken, string(p.Progress)))
	if err != nil {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, err)
	}
	if v != int64(1) {
		return fmt.Errorf("set progress of job %q: %w", p.Lease.JobID, asyncmqtype.ErrLeaseLost)
	}
	return nil
}

// promoteChunk bounds the jobs one promote script moves, so no script runs long.
const promoteChunk = 1000

// PromoteDue moves due delayed jobs of every queue to waiting, earliest RunAt first, at most
// Limit, in chunks of promoteChunk per script call.
func (s *Store) PromoteDue(ctx context.Context, p backend.PromoteParams) (int, error) {
	if err := s.guard(ctx); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	queues, err := s.knownQueues(ctx)
	if err != nil {
		return 0, err
	}
	if p.Limit > 0 {
		return s.promoteLimited(ctx, queues, p)
	}
	total := 0
	for len(queues) > 0 {
		calls := make([]call, len(queues))
		for i, q := range queues {
			calls[i] = s.queueCall(scriptPromote, q, p.Now, nil, promoteChunk)
		}
		var more []string
		for i, r := range s.evalMany(ctx, calls) {
			if r.err != nil {
				return total, fmt.Errorf("promote due jobs of queue %q: %w", queues[i], r.err)
			}
			n, _ := r.val.(int64)
			total += int(n)
			if n == promoteChunk {
				more = append(more, queues[i])
			}
		}
		queues = more
	}
	return total, nil
}

// promoteLimited picks the Limit earliest due jobs across queues from their due sets, then has
// each queue's script promote its share (its earliest ones).
func (s *Store) promoteLimited(ctx context.Context, queues []string, p backend.PromoteParams) (int, error) {
	now := p.Now
	if now.IsZero() {
		t, err := s.rdb.Time(ctx).Result()
		if err != nil {
			return 0, fmt.Errorf("promote due jobs: read the redis clock: %w", err)
		}
		now = t
	}
	type cand struct {
		queue string
		z     goredis.Z
	}
	cmds := make([]*goredis.ZSliceCmd, len(queues))
	_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		for i, q := range queues {
			cmds[i] = pl.ZRangeByScoreWithScores(ctx, s.queueKeys(q).list[8], &goredis.ZRangeBy{
				Min: "-inf", Max: strconv.FormatInt(now.UnixMicro(), 10), Count: int64(p.Limit),
			})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("promote due jobs: read due sets: %w", err)
	}
	var cands []cand
	for i, c := range cmds {
		for _, z := range c.Val() {
			cands = append(cands, cand{queues[i], z})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.z.Score != b.z.Score {
			if a.z.Score < b.z.Score {
				return -1
			}
			return 1
		}
		am, _ := a.z.Member.(string)
		bm, _ := b.z.Member.(string)
		return strings.Compare(am, bm)
	})
	per := map[string]int{}
	var order []string
	for _, c := range cands[:min(len(cands), p.Limit)] {
		if per[c.queue] == 0 {
			order = append(order, c.queue)
		}
		per[c.queue]++
	}
	calls := make([]call, len(order))
	for i, q := range order {
		calls[i] = s.queueCall(scriptPromote, q, now, nil, per[q])
	}
	total := 0
	for i, r := range s.evalMany(ctx, calls) {
		if r.err != nil {
			return total, fmt.Errorf("promote due jobs of queue %q: %w", order[i], r.err)
		}
		n, _ := r.val.(int64)
		total += int(n)
	}
	return total, nil
}

// recoverChunk bounds the jobs one recover script handles.
const recoverChunk = 500

// RecoverStalled re-queues or fails jobs whose lease expired before Now, earliest expiry first.
func (s *Store) RecoverStalled(ctx context.Context, p backend.RecoverParams) (backend.RecoverResult, error) {
	var res backend.RecoverResult
	if err := s.guard(ctx); err != nil {
		return res, err
	}
	if err := p.Validate(); err != nil {
		return res, err
	}
	now := p.Now
	if now.IsZero() {
		t, err := s.rdb.Time(ctx).Result()
		if err != nil {
			return res, fmt.Errorf("recover stalled jobs: read the redis clock: %w", err)
		}
		now = t
	}
	queues, err := s.knownQueues(ctx)
	if err != nil {
		return res, err
	}
	left := p.Limit
	for {
		chunk := recoverChunk
		if p.Limit > 0 {
			chunk = min(left, recoverChunk)
		}
		if chunk <= 0 {
			return res, nil
		}
		type cand struct {
			queue, id string
			score     float64
		}
		cmds := make([]*goredis.ZSliceCmd, len(queues))
		_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
			for i, q := range queues {
				cmds[i] = pl.ZRangeByScoreWithScores(ctx, s.queueKeys(q).lease(), &goredis.ZRangeBy{
					Min: "-inf", Max: "(" + strconv.FormatInt(now.UnixMicro(), 10), Count: int64(chunk),
				})
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("recover stalled jobs: read leases: %w", err)
		}
		var cands []cand
		for i, c := range cmds {
			for _, z := range c.Val() {
				id, _ := z.Member.(string)
				cands = append(cands, cand{queues[i], id, z.Score})
			}
		}
		if len(cands) == 0 {
			return res, nil
		}
		slices.SortFunc(cands, func(a, b cand) int {
			if a.score != b.score {
				if a.score < b.score {
					return -1
				}
				return 1
			}
			return strings.Compare(a.id, b.id)
		})
		cands = cands[:min(len(cands), chunk)]
		rank := map[string]int{}
		groups := map[string][]any{}
		var order []string
		for i, c := range cands {
			rank[c.id] = i
			if _, ok := groups[c.queue]; !ok {
				order = append(order, c.queue)
			}
			groups[c.queue] = append(groups[c.queue], c.id)
		}
		calls := make([]call, len(order))
		tail := errorTail(&asyncmqtype.AttemptError{Error: "job stalled: its lease expired more times than MaxStalls allows"})
		for i, q := range order {
			calls[i] = s.queueCall(scriptRecover, q, now, nil, append([]any{p.MaxStalls, tail}, groups[q]...)...)
		}
		var requeued, failed []string
		for i, r := range s.evalMany(ctx, calls) {
			if r.err != nil {
				return res, fmt.Errorf("recover stalled jobs of queue %q: %w", order[i], r.err)
			}
			arr, _ := r.val.([]any)
			if len(arr) == 2 {
				requeued = append(requeued, strs(arr[0])...)
				failed = append(failed, strs(arr[1])...)
			}
		}
		byRank := func(a, b string) int { return rank[a] - rank[b] }
		slices.SortFunc(requeued, byRank)
		slices.SortFunc(failed, byRank)
		res.Requeued = append(res.Requeued, requeued...)
		res.Failed = append(res.Failed, failed...)
		if p.Limit > 0 {
			left -= len(cands)
		}
		if len(cands) < chunk {
			return res, nil
		}
	}
}
