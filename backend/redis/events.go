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
// 100,000), so they stay bounded. On a single server (and Sentinel) every queue appends to one
// stream and an event's int64 ID is its stream ID, milliseconds << 20 | sequence, so IDs are in
// the order events happened. On Cluster each queue has its own stream (a script may only touch
// its slot): the ID is milliseconds << 20 | (sequence mod 4096) << 8 | an 8-bit hash of the
// queue, and Events merges the streams by it. Two limits remain there until the storage seam's
// opaque cursors (one stream position per queue) replace the int64: two queues with the same
// 8-bit hash writing in one millisecond get equal IDs, and a node whose clock lags can append an
// event behind a position a reader has already passed.

func queueHash(q string) int64 {
	var h uint32 = 2166136261
	for i := 0; i < len(q); i++ {
		h = (h ^ uint32(q[i])) * 16777619
	}
	return int64(h & 0xff)
}

func splitStreamID(sid string) (ms, seq int64) {
	a, b, _ := strings.Cut(sid, "-")
	ms, _ = strconv.ParseInt(a, 10, 64)
	seq, _ = strconv.ParseInt(b, 10, 64)
	return ms, seq
}

func (s *Store) eventID(sid, queue string) int64 {
	ms, seq := splitStreamID(sid)
	if s.cluster {
		return ms<<20 | (seq&0xfff)<<8 | queueHash(queue)
	}
	return ms<<20 | seq
}

// streamStart is where to start reading the stream of queue ("" for the shared one) to find the
// events after id; the caller still drops events whose ID is not above it.
func (s *Store) streamStart(id int64, queue string) string {
	if id <= 0 {
		return "-"
	}
	ms := id >> 20
	if !s.cluster {
		return "(" + strconv.FormatInt(ms, 10) + "-" + strconv.FormatInt(id&(1<<20-1), 10)
	}
	seq, h := (id>>8)&0xfff, id&0xff
	pos := strconv.FormatInt(ms, 10) + "-" + strconv.FormatInt(seq, 10)
	if queueHash(queue) > h {
		return pos
	}
	return "(" + pos
}

func (s *Store) decodeEvent(m goredis.XMessage) asyncmqtype.Event {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	return asyncmqtype.Event{
		ID: s.eventID(m.ID, str("q")), Type: asyncmqtype.EventType(str("t")), Queue: str("q"), JobID: str("j"),
		Task: str("k"), State: asyncmqtype.State(str("s")), At: fromMicros(str("a")), Detail: str("d"),
	}
}

// eventStreams returns the streams to read with the queue of each ("" for the shared stream):
// the shared one, or on Cluster one per queue that ever existed (or just the queue asked for).
func (s *Store) eventStreams(ctx context.Context, queue string) (streams, queues []string, err error) {
	if !s.cluster {
		return []string{s.eventsKey()}, []string{""}, nil
	}
	if queue != "" {
		return []string{s.queueKeys(queue).events()}, []string{queue}, nil
	}
	qs, err := s.rdb.SMembers(ctx, s.allqKey()).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("list queues for events: %w", err)
	}
	streams = make([]string, len(qs))
	for i, q := range qs {
		streams[i] = s.queueKeys(q).events()
	}
	return streams, qs, nil
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
	streams, queues, err := s.eventStreams(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	var out []asyncmqtype.Event
	for si, st := range streams {
		start := s.streamStart(p.AfterID, queues[si])
		for {
			msgs, err := s.rdb.XRangeN(ctx, st, start, "+", eventChunk).Result()
			if err != nil {
				return nil, fmt.Errorf("read events: %w", err)
			}
			for _, m := range msgs {
				e := s.decodeEvent(m)
				if e.ID > p.AfterID && (p.Queue == "" || e.Queue == p.Queue) {
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
	streams, _, err := s.eventStreams(ctx, "")
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
			last = max(last, s.decodeEvent(msgs[0]).ID)
		}
	}
	return last, nil
}
