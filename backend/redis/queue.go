package redis

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// queueInfos reads the settings and per-state counts (ZCARD, O(1)) of queues in one pipeline;
// queues that are not known come back with ok false.
func (s *Store) queueInfos(ctx context.Context, names []string) ([]asyncmqtype.QueueInfo, []bool, error) {
	metas := make([]*goredis.SliceCmd, len(names))
	counts := make([][asyncmqtype.NumStates]*goredis.IntCmd, len(names))
	lanes := make([]*goredis.IntCmd, len(names))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, q := range names {
			k := s.queueKeys(q)
			metas[i] = p.HMGet(ctx, k.meta(), "k", "pz", "rl", "ri")
			for st := range asyncmqtype.NumStates {
				counts[i][st] = p.ZCard(ctx, k.state(st))
			}
			lanes[i] = p.ZCard(ctx, k.lane())
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read queues: %w", err)
	}
	infos := make([]asyncmqtype.QueueInfo, len(names))
	ok := make([]bool, len(names))
	for i, q := range names {
		m := metas[i].Val()
		str := func(j int) string { v, _ := m[j].(string); return v }
		ok[i] = str(0) == "1"
		qi := asyncmqtype.QueueInfo{Name: q, Paused: str(1) == "1", Counts: make(map[asyncmqtype.State]int, asyncmqtype.NumStates)}
		for _, state := range asyncmqtype.States {
			qi.Counts[state] = int(counts[i][state.Index()].Val())
		}
		// The lane's jobs are waiting too (lane.go).
		qi.Counts[asyncmqtype.StateWaiting] += int(lanes[i].Val())
		if rl := atoi(str(2)); rl > 0 {
			qi.RateLimit = rl
			qi.RateInterval = time.Duration(atoi(str(3))) * time.Microsecond
		}
		infos[i] = qi
	}
	return infos, ok, nil
}

// Queues lists the known queues, sorted by name.
func (s *Store) Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	names, err := s.knownQueues(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	infos, ok, err := s.queueInfos(ctx, names)
	if err != nil {
		return nil, err
	}
	out := infos[:0]
	for i, qi := range infos {
		if ok[i] {
			out = append(out, qi)
		}
	}
	return out, nil
}

// Queue returns one queue; ErrQueueNotFound if unknown.
func (s *Store) Queue(ctx context.Context, name string) (asyncmqtype.QueueInfo, error) {
	if err := s.guard(ctx); err != nil {
		return asyncmqtype.QueueInfo{}, err
	}
	infos, ok, err := s.queueInfos(ctx, []string{name})
	if err != nil {
		return asyncmqtype.QueueInfo{}, err
	}
	if !ok[0] {
		return asyncmqtype.QueueInfo{}, fmt.Errorf("queue %q: %w", name, asyncmqtype.ErrQueueNotFound)
	}
	return infos[0], nil
}

func (s *Store) settings(ctx context.Context, queue string, args ...any) error {
	v, err := s.eval(ctx, s.queueCall(scriptSettings, queue, time.Time{}, nil, args...))
	if err != nil {
		return err
	}
	if v == int64(1) {
		s.queueCreated(ctx, queue)
	}
	return nil
}

// SetQueuePaused pauses or resumes a queue for every worker.
func (s *Store) SetQueuePaused(ctx context.Context, queue string, paused bool) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := backend.ValidatePause(queue); err != nil {
		return err
	}
	flag := "0"
	if paused {
		flag = "1"
	}
	if err := s.settings(ctx, queue, "pause", flag); err != nil {
		return fmt.Errorf("set queue %q paused=%v: %w", queue, paused, err)
	}
	return nil
}

// SetRateLimit limits the jobs claimed from a queue to Limit per Interval (fixed windows).
func (s *Store) SetRateLimit(ctx context.Context, p backend.RateLimitParams) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.settings(ctx, p.Queue, "rate", p.Limit, p.Interval.Microseconds()); err != nil {
		return fmt.Errorf("set rate limit of queue %q: %w", p.Queue, err)
	}
	return nil
}

// deleteChunk bounds the jobs one drain, clean or obliterate script deletes, so that no script
// holds Redis for long; the client repeats the call until the work is done.
const deleteChunk = 1000

// chunked runs a deleting script until it reports done, returning the total deleted.
func (s *Store) chunked(ctx context.Context, what, queue string, mk func(doneSoFar int) call) (int, error) {
	total := 0
	for {
		v, err := s.eval(ctx, mk(total))
		if err != nil {
			return total, fmt.Errorf("%s queue %q: %w", what, queue, err)
		}
		arr, _ := v.([]any)
		if len(arr) == 1 && arr[0] == "nf" {
			return total, fmt.Errorf("%s queue %q: %w", what, queue, asyncmqtype.ErrQueueNotFound)
		}
		if len(arr) < 3 {
			return total, fmt.Errorf("%s queue %q: unexpected reply %v", what, queue, v)
		}
		s.afterDelete(ctx, v)
		n, _ := arr[0].(int64)
		total += int(n)
		if arr[2] == int64(1) {
			return total, nil
		}
	}
}

// Drain deletes a queue's waiting jobs (and delayed ones when includeDelayed).
func (s *Store) Drain(ctx context.Context, queue string, includeDelayed bool) (int, error) {
	if err := s.guard(ctx); err != nil {
		return 0, err
	}
	flag := "0"
	if includeDelayed {
		flag = "1"
	}
	return s.chunked(ctx, "drain", queue, func(sofar int) call {
		return s.queueCall(scriptDrain, queue, time.Time{}, nil, flag, deleteChunk, sofar)
	})
}

// Clean deletes a queue's terminal jobs finished before OlderThan, oldest first.
func (s *Store) Clean(ctx context.Context, p backend.CleanParams) (int, error) {
	if err := s.guard(ctx); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	older := ""
	if !p.OlderThan.IsZero() {
		older = micros(p.OlderThan)
	}
	total := 0
	for {
		chunk, last := deleteChunk, "0"
		if p.Limit > 0 && p.Limit-total <= deleteChunk {
			chunk, last = p.Limit-total, "1"
		}
		v, err := s.eval(ctx, s.queueCall(scriptClean, p.Queue, time.Time{}, nil, string(p.State), older, chunk, p.Keep, total, last))
		if err != nil {
			return total, fmt.Errorf("clean queue %q: %w", p.Queue, err)
		}
		arr, _ := v.([]any)
		if len(arr) == 1 && arr[0] == "nf" {
			return total, fmt.Errorf("clean queue %q: %w", p.Queue, asyncmqtype.ErrQueueNotFound)
		}
		if len(arr) < 3 {
			return total, fmt.Errorf("clean queue %q: unexpected reply %v", p.Queue, v)
		}
		s.afterDelete(ctx, v)
		n, _ := arr[0].(int64)
		total += int(n)
		if arr[2] == int64(1) {
			return total, nil
		}
	}
}

// Obliterate deletes a queue, its jobs, settings and repeatables; its events and metrics stay.
func (s *Store) Obliterate(ctx context.Context, queue string, force bool) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	flag := "0"
	if force {
		flag = "1"
	}
	k := s.queueKeys(queue)
	for {
		v, err := s.eval(ctx, s.queueCall(scriptObliterate, queue, time.Time{}, nil, flag, deleteChunk, k.base+"r:"))
		if err != nil {
			return fmt.Errorf("obliterate queue %q: %w", queue, err)
		}
		arr, _ := v.([]any)
		if len(arr) == 0 {
			return fmt.Errorf("obliterate queue %q: unexpected reply %v", queue, v)
		}
		switch arr[0] {
		case "nf":
			return fmt.Errorf("obliterate queue %q: %w", queue, asyncmqtype.ErrQueueNotFound)
		case "active":
			return fmt.Errorf("obliterate queue %q: %w", queue, asyncmqtype.ErrQueueActive)
		case "more":
			s.afterDelete(ctx, v)
		case "done":
			s.afterDelete(ctx, v)
			var reps []string
			if len(arr) > 2 {
				reps = strs(arr[2])
			}
			_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
				if len(reps) > 0 {
					p.HDel(ctx, s.repsKey(), reps...)
				}
				if s.cluster {
					p.SRem(ctx, s.queuesKey(), queue)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("obliterate queue %q: remove its shared index entries: %w", queue, err)
			}
			return nil
		}
	}
}
