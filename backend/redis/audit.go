package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// AuditRetention is how many audit entries the store keeps; older ones are trimmed as new ones
// are appended.
const AuditRetention = 100_000

// appendAudit numbers an entry, stamps it with the given time or the Redis clock, and stores it
// as "<id> <µs> <json>" in a sorted set scored by ID.
var appendAudit = goredis.NewScript(`
local id = redis.call('INCR', KEYS[1])
local at = ARGV[1]
if at == '0' then
  local t = redis.call('TIME')
  at = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
redis.call('ZADD', KEYS[2], id, id .. ' ' .. at .. ' ' .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[3]) - 1)
return {id, at}
`)

// AppendAudit stores an audit entry and returns it with its ID and time set.
func (s *Store) AppendAudit(ctx context.Context, e asyncmqtype.AuditEntry) (asyncmqtype.AuditEntry, error) {
	if err := s.guard(ctx); err != nil {
		return e, err
	}
	if err := backend.ValidateAudit(e); err != nil {
		return e, err
	}
	body := e
	body.ID, body.At = 0, time.Time{}
	b, err := json.Marshal(body)
	if err != nil {
		return e, fmt.Errorf("encode audit entry: %w", err)
	}
	seq, log := s.auditKeys()
	v, err := appendAudit.Run(ctx, s.rdb, []string{seq, log}, micros(e.At), string(b), AuditRetention).Slice()
	if err != nil {
		return e, fmt.Errorf("append audit entry %q: %w", e.Action, s.wrapRedisErr(err))
	}
	e.ID, _ = v[0].(int64)
	at, _ := v[1].(string)
	e.At = fromMicros(at)
	return e, nil
}

func decodeAudit(member string) (asyncmqtype.AuditEntry, error) {
	var e asyncmqtype.AuditEntry
	id, rest, _ := strings.Cut(member, " ")
	at, body, _ := strings.Cut(rest, " ")
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return e, fmt.Errorf("decode audit entry %s: %w", id, err)
	}
	e.ID, _ = strconv.ParseInt(id, 10, 64)
	e.At = fromMicros(at)
	return e, nil
}

// Audit lists entries newest first, filtered in the client over the bounded log.
func (s *Store) Audit(ctx context.Context, p asyncmqtype.AuditParams) ([]asyncmqtype.AuditEntry, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	_, log := s.auditKeys()
	text := strings.ToLower(p.Text)
	var out []asyncmqtype.AuditEntry
	skipped := 0
	for start := int64(0); ; start += 1000 {
		ms, err := s.rdb.ZRevRange(ctx, log, start, start+999).Result()
		if err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		for _, m := range ms {
			e, err := decodeAudit(m)
			if err != nil {
				return nil, err
			}
			if (p.Action != "" && e.Action != p.Action) || (p.Status != "" && e.Status != p.Status) ||
				(p.Queue != "" && e.Queue != p.Queue) || (p.Actor != "" && e.Actor != p.Actor) {
				continue
			}
			if text != "" && !strings.Contains(strings.ToLower(strings.Join([]string{e.Action, e.Actor, e.Queue, e.JobID, e.Detail, e.Error}, "\x00")), text) {
				continue
			}
			if skipped < p.Offset {
				skipped++
				continue
			}
			out = append(out, e)
			if p.Limit > 0 && len(out) >= p.Limit {
				return out, nil
			}
		}
		if len(ms) < 1000 {
			return out, nil
		}
	}
}
