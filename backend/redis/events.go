package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	goredis "github.com/redis/go-redis/v9"
)

// Events live in a Redis Stream trimmed with MAXLEN ~ (the events= URL option, default
// 100,000), so they stay bounded. An event's int64 ID is its stream ID, milliseconds << 20 |
// sequence: IDs increase strictly within a stream. On a single server (and Sentinel) every queue
// appends to one stream, so IDs are in the order events happened. On Cluster each queue has its
// own stream (a script may only touch its slot) and Events merges them by ID; two queues can then
// produce one ID in the same millisecond on different nodes. The opaque cursors planned for the
// storage seam (one stream position per queue) remove that limit.

func streamToID(sid string) int64 {
	ms, seq, _ := strings.Cut(sid, "-")
	m, _ := strconv.ParseInt(ms, 10, 64)
	q, _ := strconv.ParseInt(seq, 10, 64)
	return m<<20 | q
}

func idToStream(id int64) string {
	return strconv.FormatInt(id>>20, 10) + "-" + strconv.FormatInt(id&(1<<20-1), 10)
}

func decodeEvent(m goredis.XMessage) asyncmqtype.Event {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	return asyncmqtype.Event{
		ID: streamToID(m.ID), Type: asyncmqtype.EventType(str("t")), Queue: str("q"), JobID: str("j"),
		Task: str("k"), State: asyncmqtype.State(str("s")), At: fromMicros(str("a")), Detail: str("d"),
	}
}

// eventStreams returns the streams to read: the shared one, or on Cluster one per queue that
// ever existed (or just the queue asked for).
func (s *Store) eventStreams(ctx context.Context, queue string) ([]string, error) {
	if !s.cluster {
		return []string{s.eventsKey()}, nil
	}
	if queue != "" {
		return []string{s.queueKeys(queue).events()}, nil
	}
	qs, err := s.rdb.SMembers(ctx, s.allqKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list queues for events: %w", err)
	}
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = s.queueKeys(q).events()
	}
	return out, nil
}

const eventChunk = 1000

// Events returns events with ID > AfterID, oldest first, at most Limit (0 = all).
func (s *Store) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	if p.Limit < 0 {
		return nil, invalid("read events: negative limit")
	}
	streams, err := s.eventStreams(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	var out []asyncmqtype.Event
	for _, st := range streams {
		start := "-"
		if p.AfterID > 0 {
			start = "(" + idToStream(p.AfterID)
		}
		for {
			msgs, err := s.rdb.XRangeN(ctx, st, start, "+", eventChunk).Result()
			if err != nil {
				return nil, fmt.Errorf("read events: %w", err)
			}
			for _, m := range msgs {
				e := decodeEvent(m)
				if p.Queue == "" || e.Queue == p.Queue {
					out = append(out, e)
				}
			}
			if len(msgs) < eventChunk || (p.Limit > 0 && len(streams) == 1 && len(out) >= p.Limit) {
				break
			}
			start = "(" + msgs[len(msgs)-1].ID
		}
	}
	if len(streams) > 1 {
		slices.SortStableFunc(out, func(a, b asyncmqtype.Event) int { return cmp.Compare(a.ID, b.ID) })
	}
	if p.Limit > 0 && len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out, nil
}

// LastEventID returns the ID of the newest event, 0 when there is none.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	if err := s.guard(ctx); err != nil {
		return 0, err
	}
	streams, err := s.eventStreams(ctx, "")
	if err != nil {
		return 0, err
	}
	var last int64
	for _, st := range streams {
		msgs, err := s.rdb.XRevRangeN(ctx, st, "+", "-", 1).Result()
		if err != nil {
			return 0, fmt.Errorf("read the last event: %w", err)
		}
		if len(msgs) == 1 {
			last = max(last, streamToID(msgs[0].ID))
		}
	}
	return last, nil
}
