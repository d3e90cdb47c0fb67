package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

func (s *Store) repCall(queue, id string, now time.Time, args ...any) call {
	k := s.queueKeys(queue)
	return s.queueCall(scriptRepeatable, queue, now, []string{k.repeatable(id)}, args...)
}

// repQueue returns the queue of a repeatable, or ErrRepeatableNotFound.
func (s *Store) repQueue(ctx context.Context, id string) (string, error) {
	q, err := s.rdb.HGet(ctx, s.repsKey(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return "", fmt.Errorf("repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("look up repeatable %q: %w", id, err)
	}
	return q, nil
}

// UpsertRepeatable creates or replaces a repeatable definition.
func (s *Store) UpsertRepeatable(ctx context.Context, r asyncmqtype.Repeatable) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := backend.ValidateRepeatable(r); err != nil {
		return err
	}
	old, err := s.rdb.HGet(ctx, s.repsKey(), r.ID).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, err)
	}
	if old != "" && old != r.Queue {
		if _, err := s.eval(ctx, s.repCall(old, r.ID, time.Time{}, "remove", r.ID)); err != nil {
			return fmt.Errorf("upsert repeatable %q: move it out of queue %q: %w", r.ID, old, err)
		}
	}
	def := r
	def.NextRun, def.LastRun, def.CreatedAt, def.Paused = time.Time{}, time.Time{}, time.Time{}, false
	b, err := json.Marshal(def)
	if err != nil {
		return fmt.Errorf("encode repeatable %q: %w", r.ID, err)
	}
	last := ""
	if !r.LastRun.IsZero() {
		last = micros(r.LastRun)
	}
	paused := "0"
	if r.Paused {
		paused = "1"
	}
	v, err := s.eval(ctx, s.repCall(r.Queue, r.ID, time.Time{}, "upsert", r.ID, string(b), micros(r.NextRun), last, micros(r.CreatedAt), paused))
	if err != nil {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, err)
	}
	if v == int64(1) {
		s.queueCreated(ctx, r.Queue)
	}
	if err := s.rdb.HSet(ctx, s.repsKey(), r.ID, r.Queue).Err(); err != nil {
		return fmt.Errorf("upsert repeatable %q: index it: %w", r.ID, err)
	}
	return nil
}

func decodeRepeatable(id string, f map[string]string) (asyncmqtype.Repeatable, bool, error) {
	var r asyncmqtype.Repeatable
	if f["d"] == "" {
		return r, false, nil
	}
	if err := json.Unmarshal([]byte(f["d"]), &r); err != nil {
		return r, false, fmt.Errorf("decode repeatable %q: %w", id, err)
	}
	r.NextRun, r.LastRun, r.CreatedAt = fromMicros(f["nr"]), fromMicros(f["lr"]), fromMicros(f["ca"])
	r.Paused = f["pz"] == "1"
	return r, true, nil
}

// readRepeatables reads definitions named by (queue, id) pairs in one pipeline.
func (s *Store) readRepeatables(ctx context.Context, queues, ids []string) ([]asyncmqtype.Repeatable, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.queueKeys(queues[i]).repeatable(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read repeatables: %w", err)
	}
	out := make([]asyncmqtype.Repeatable, 0, len(ids))
	for i, c := range cmds {
		r, ok, err := decodeRepeatable(ids[i], c.Val())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Repeatables lists the definitions of a queue ("" for all), sorted by queue then ID.
func (s *Store) Repeatables(ctx context.Context, queue string) ([]asyncmqtype.Repeatable, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	all, err := s.rdb.HGetAll(ctx, s.repsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list repeatables: %w", err)
	}
	var queues, ids []string
	for id, q := range all {
		if queue == "" || q == queue {
			queues, ids = append(queues, q), append(ids, id)
		}
	}
	out, err := s.readRepeatables(ctx, queues, ids)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b asyncmqtype.Repeatable) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// GetRepeatable returns one definition.
func (s *Store) GetRepeatable(ctx context.Context, id string) (asyncmqtype.Repeatable, error) {
	if err := s.guard(ctx); err != nil {
		return asyncmqtype.Repeatable{}, err
	}
	q, err := s.repQueue(ctx, id)
	if err != nil {
		return asyncmqtype.Repeatable{}, err
	}
	rs, err := s.readRepeatables(ctx, []string{q}, []string{id})
	if err != nil {
		return asyncmqtype.Repeatable{}, err
	}
	if len(rs) == 0 {
		return asyncmqtype.Repeatable{}, fmt.Errorf("repeatable %q: %w", id, asyncmqtype.ErrRepeatableNotFound)
	}
	return rs[0], nil
}

func (s *Store) repOp(ctx context.Context, what, id string, args ...any) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	q, err := s.repQueue(ctx, id)
	if err != nil {
		return err
	}
	v, err := s.eval(ctx, s.repCall(q, id, time.Time{}, args...))
	if err != nil {
		return fmt.Errorf("%s repeatable %q: %w", what, id, err)
	}
	if v == int64(-1) {
		return fmt.Errorf("%s repeatable %q: %w", what, id, asyncmqtype.ErrRepeatableNotFound)
	}
	return nil
}

// SetRepeatablePaused pauses or resumes a definition.
func (s *Store) SetRepeatablePaused(ctx context.Context, id string, paused bool) error {
	flag := "0"
	if paused {
		flag = "1"
	}
	return s.repOp(ctx, "pause", id, "pause", id, flag)
}

// RemoveRepeatable deletes a definition.
func (s *Store) RemoveRepeatable(ctx context.Context, id string) error {
	if err := s.repOp(ctx, "remove", id, "remove", id); err != nil {
		return err
	}
	if err := s.rdb.HDel(ctx, s.repsKey(), id).Err(); err != nil {
		return fmt.Errorf("remove repeatable %q: unindex it: %w", id, err)
	}
	return nil
}

// DueRepeatables lists unpaused definitions whose NextRun <= now, by NextRun then ID.
func (s *Store) DueRepeatables(ctx context.Context, now time.Time) ([]asyncmqtype.Repeatable, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	if now.IsZero() {
		t, err := s.rdb.Time(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("list due repeatables: read the redis clock: %w", err)
		}
		now = t
	}
	all, err := s.rdb.HVals(ctx, s.repsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list due repeatables: %w", err)
	}
	queues := slices.Compact(slices.Sorted(slices.Values(all)))
	cmds := make([]*goredis.StringSliceCmd, len(queues))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, q := range queues {
			cmds[i] = p.ZRangeByScore(ctx, s.queueKeys(q).rdue(), &goredis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMicro(), 10)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list due repeatables: %w", err)
	}
	var qs, ids []string
	for i, c := range cmds {
		for _, id := range c.Val() {
			qs, ids = append(qs, queues[i]), append(ids, id)
		}
	}
	out, err := s.readRepeatables(ctx, qs, ids)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b asyncmqtype.Repeatable) int {
		if c := a.NextRun.Compare(b.NextRun); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// FireRepeatable enqueues the job and moves NextRun from Expected to Next in one script.
func (s *Store) FireRepeatable(ctx context.Context, p backend.FireParams) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	q, err := s.repQueue(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("fire: %w", err)
	}
	j := *p.Job
	j.RepeatableID = p.ID
	if s.cluster && j.Queue != q {
		return s.fireAcross(ctx, q, &j, p)
	}
	if s.cluster {
		if err := s.claimIDs(ctx, j.Queue, []string{j.ID}); err != nil {
			return err
		}
	} else if !p.FreshID {
		// The script checks the ID index, which may lack a sealed ID (global.go).
		if err := s.refuseTakenSealed(ctx, []*asyncmqtype.JobInfo{&j}, nil); err != nil {
			return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
		}
	}
	args := append([]any{p.ID, micros(p.Expected), micros(p.Next)}, jobArgs(&j)...)
	extra := []string{s.queueKeys(q).repeatable(p.ID), s.queueKeys(q).rdue()}
	v, err := s.eval(ctx, s.queueCall(scriptFire, j.Queue, p.Now, extra, args...))
	if err == nil {
		err = enqueueReply(v)
	}
	if err != nil {
		if s.cluster {
			s.releaseIDs(context.WithoutCancel(ctx), []string{j.ID})
		}
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	q = j.Queue
	if created(v) {
		s.queueCreated(ctx, q)
	}
	return nil
}

// fireAcross fires a repeatable whose job goes to another queue on Cluster, where one script
// cannot reach both slots: it moves the schedule first (so only one firing wins) and puts it
// back if the job cannot be enqueued.
func (s *Store) fireAcross(ctx context.Context, q string, j *asyncmqtype.JobInfo, p backend.FireParams) error {
	prev, err := s.rdb.HGet(ctx, s.queueKeys(q).repeatable(p.ID), "lr").Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	v, err := s.eval(ctx, s.repCall(q, p.ID, p.Now, "advance", p.ID, micros(p.Expected), micros(p.Next)))
	if err != nil {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	switch v {
	case int64(-1):
		return fmt.Errorf("fire: repeatable %q: %w", p.ID, asyncmqtype.ErrRepeatableNotFound)
	case int64(-2):
		return fmt.Errorf("fire repeatable %q: %w", p.ID, asyncmqtype.ErrConflict)
	}
	if err := s.Enqueue(ctx, backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}, Now: p.Now}); err != nil {
		if _, rerr := s.eval(context.WithoutCancel(ctx), s.repCall(q, p.ID, p.Now, "revert", p.ID, micros(p.Expected), micros(p.Next), prev)); rerr != nil {
			s.log.Error("asyncmq redis: put back the schedule of a repeatable that failed to fire", "id", p.ID, "err", rerr)
		}
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	return nil
}
