package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// A role's lease is a hash <prefix>:{lead}:<name> with h (holder) and e (expiry, µs). Expiry is
// compared with the call's Now, or the Redis clock when Now is zero, so the workers' clocks never
// decide who leads.
var electScript = goredis.NewScript(`
local now
if ARGV[1] == '0' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local v = redis.call('HMGET', KEYS[1], 'h', 'e')
if not v[1] or tonumber(v[2]) < now or v[1] == ARGV[2] then
  local e = string.format('%.0f', now + tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'h', ARGV[2], 'e', e)
  return {ARGV[2], e}
end
return {v[1], v[2]}
`)

var resignScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

func (s *Store) leaseKey(name string) string { return s.prefix + ":{lead}:" + name }

// Elect takes or extends the lease on a role, or reports who holds it.
func (s *Store) Elect(ctx context.Context, p backend.ElectParams) (backend.Leadership, error) {
	if err := s.guard(ctx); err != nil {
		return backend.Leadership{}, err
	}
	if err := p.Validate(); err != nil {
		return backend.Leadership{}, err
	}
	v, err := electScript.Run(ctx, s.rdb, []string{s.leaseKey(p.Name)}, micros(p.Now), p.Holder, p.TTL.Microseconds()).StringSlice()
	if err != nil {
		return backend.Leadership{}, fmt.Errorf("elect %q for %q: %w", p.Holder, p.Name, s.wrapRedisErr(err))
	}
	if len(v) != 2 {
		return backend.Leadership{}, fmt.Errorf("elect %q for %q: unexpected reply %v", p.Holder, p.Name, v)
	}
	return backend.Leadership{Holder: v[0], Expires: fromMicros(v[1])}, nil
}

// Resign gives up the lease on a role if p.Holder holds it.
func (s *Store) Resign(ctx context.Context, p backend.ResignParams) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := resignScript.Run(ctx, s.rdb, []string{s.leaseKey(p.Name)}, p.Holder).Err(); err != nil && err != goredis.Nil {
		return fmt.Errorf("resign %q from %q: %w", p.Holder, p.Name, err)
	}
	return nil
}

// PruneWorkers deletes the records of workers whose last heartbeat is before p.Before.
func (s *Store) PruneWorkers(ctx context.Context, p backend.PruneWorkersParams) (int, error) {
	if err := s.guard(ctx); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	info, started, hb := s.workerKeys()
	ids, err := s.rdb.ZRangeByScore(ctx, hb, &goredis.ZRangeBy{Min: "-inf", Max: "(" + strconv.FormatInt(p.Before.UnixMicro(), 10)}).Result()
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var removed *goredis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		pl.HDel(ctx, info, ids...)
		pl.HDel(ctx, started, ids...)
		members := make([]any, len(ids))
		for i, id := range ids {
			members[i] = id
		}
		removed = pl.ZRem(ctx, hb, members...)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", err)
	}
	return int(removed.Val()), nil
}
