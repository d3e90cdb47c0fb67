package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	goredis "github.com/redis/go-redis/v9"
)

// Events live in Redis Streams and hold ids and states only, never payloads or results. The
// scripts write the events of one call as one stream entry (see flush_events in prelude.lua)
// and keep the stream near the events= URL option's count of events (default 100,000), so it
// stays bounded.
//
// On a single server and behind Sentinel every queue's scripts append to one stream, and an
// event's cursor is its entry's stream ID ("<ms>-<seq>"), followed by ".<i>" for the i-th event
// of an entry holding several. Redis assigns stream IDs in append order inside the script that
// makes the transition, so a reader resuming after a cursor never skips an event and never reads
// one twice, whatever the writers.
//
// On Cluster a script may only touch its own slot, so each queue has its own stream and a cursor
// ends in "/<queue>" (queue names cannot hold "/"). Events merges the streams in the order
// (ms, seq, queue, i). The milliseconds come from each node's clock: a node whose clock lags the
// others by d can append an event behind a cursor a reader took less than d earlier, and that
// reader skips it. Keep the nodes' clocks synchronised (NTP); a single server has no such limit.

// position is one event's place in the order of every stream: its entry's, then its index in
// the entry. many marks an entry of several events, whose cursors carry the index.
type position struct {
	ms, seq int64
	queue   string
	idx     int
	many    bool
}

func (a position) compare(b position) int {
	if a.ms != b.ms {
		return cmpInt(a.ms, b.ms)
	}
	if a.seq != b.seq {
		return cmpInt(a.seq, b.seq)
	}
	if c := strings.Compare(a.queue, b.queue); c != 0 {
		return c
	}
	return cmpInt(int64(a.idx), int64(b.idx))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func parseStreamID(sid string) (ms, seq int64, ok bool) {
	a, b, found := strings.Cut(sid, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil && ms >= 0 && seq >= 0
}

func (s *Store) cursorOf(p position) string {
	id := strconv.FormatInt(p.ms, 10) + "-" + strconv.FormatInt(p.seq, 10)
	if p.many {
		id += "." + strconv.Itoa(p.idx)
	}
	if s.cluster {
		return id + "/" + p.queue
	}
	return id
}

// parseCursor reads a cursor of this store's kind; "" is the start.
func (s *Store) parseCursor(c string) (position, error) {
	if c == "" {
		return position{ms: -1}, nil
	}
	id, queue := c, ""
	if s.cluster {
		var ok bool
		if id, queue, ok = strings.Cut(c, "/"); !ok {
			return position{}, invalid("event cursor %q: want <ms>-<seq>/<queue>", c)
		}
	}
	idx := 0
	id, is, many := strings.Cut(id, ".")
	if many {
		n, err := strconv.Atoi(is)
		if err != nil || n < 0 {
			return position{}, invalid("event cursor %q: not a cursor of this store", c)
		}
		idx = n
	}
	ms, seq, ok := parseStreamID(id)
	if !ok || (!s.cluster && strings.Contains(c, "/")) {
		return position{}, invalid("event cursor %q: not a cursor of this store", c)
	}
	return position{ms: ms, seq: seq, queue: queue, idx: idx, many: many}, nil
}

// decodeEntry expands one stream entry into its events, in order.
func (s *Store) decodeEntry(m goredis.XMessage) []posEvent {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	ms, seq, _ := parseStreamID(m.ID)
	queue := str("q")
	pos := position{ms: ms, seq: seq}
	if s.cluster {
		pos.queue = queue
	}
	n, _ := strconv.Atoi(str("n"))
	if n == 0 {
		return []posEvent{{asyncmqtype.Event{
			Cursor: s.cursorOf(pos), Type: asyncmqtype.EventType(str("t")), Queue: queue, JobID: str("j"),
			Task: str("k"), State: asyncmqtype.State(str("s")), At: fromMicros(str("a")), Detail: str("d"),
		}, pos}}
	}
	// Each field is either shared by every event (lowercase name) or listed per event (uppercase
	// name, values joined by the separator); column reads the i-th event's value either way.
	type column struct {
		shared string
		list   []string
		listed bool
	}
	col := func(name, upper string) column {
		if v, ok := m.Values[upper].(string); ok {
			return column{list: strings.Split(v, depSep), listed: true}
		}
		return column{shared: str(name)}
	}
	value := func(c column, i int) string {
		switch {
		case !c.listed:
			return c.shared
		case i < len(c.list):
			return c.list[i]
		}
		return ""
	}
	typ, ids, tasks, states, ats, details := col("t", "T"), col("j", "J"), col("k", "K"), col("s", "S"), col("a", "A"), col("d", "D")
	pos.many = true
	out := make([]posEvent, n)
	var at time.Time
	if !ats.listed {
		at = fromMicros(ats.shared)
	}
	for i := range n {
		p := pos
		p.idx = i
		e := asyncmqtype.Event{
			Cursor: s.cursorOf(p), Type: asyncmqtype.EventType(value(typ, i)), Queue: queue, JobID: value(ids, i),
			Task: value(tasks, i), State: asyncmqtype.State(value(states, i)), At: at, Detail: value(details, i),
		}
		if ats.listed {
			e.At = fromMicros(value(ats, i))
		}
		out[i] = posEvent{e, p}
	}
	return out
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

type posEvent struct {
	e   asyncmqtype.Event
	pos position
}

// Events returns events after the cursor p.After, oldest first, at most Limit (0 = all).
func (s *Store) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	after, err := s.parseCursor(p.After)
	if err != nil {
		return nil, err
	}
	streams, _, err := s.eventStreams(ctx, p.Queue)
	if err != nil {
		return nil, err
	}
	var out []posEvent
	// Every entry holds one event or more, and the first may hold some before the cursor: with a
	// Limit, that many entries and one more hold the events a stream can contribute, unless the
	// stream is shared by every queue and only one queue's events are wanted.
	chunk := int64(eventChunk)
	if p.Limit > 0 && (p.Queue == "" || s.cluster) {
		chunk = min(chunk, int64(p.Limit)+1)
	}
	for _, st := range streams {
		// From the cursor's entry on, inclusive: its later events, and on Cluster the entries of
		// queues sorting after the cursor's with the same ID, are still ahead.
		start := "-"
		if after.ms >= 0 {
			start = strconv.FormatInt(after.ms, 10) + "-" + strconv.FormatInt(after.seq, 10)
		}
		// kept counts this stream's events: the merged page takes at most Limit of them.
		kept := 0
		for {
			msgs, err := s.rdb.XRangeN(ctx, st, start, "+", chunk).Result()
			if err != nil {
				return nil, fmt.Errorf("read events: %w", err)
			}
			for _, m := range msgs {
				for _, pe := range s.decodeEntry(m) {
					if pe.pos.compare(after) > 0 && (p.Queue == "" || pe.e.Queue == p.Queue) {
						out = append(out, pe)
						kept++
					}
				}
			}
			if int64(len(msgs)) < chunk || (p.Limit > 0 && kept >= p.Limit) {
				break
			}
			start = "(" + msgs[len(msgs)-1].ID
		}
	}
	if len(streams) > 1 {
		slices.SortStableFunc(out, func(a, b posEvent) int { return a.pos.compare(b.pos) })
	}
	if p.Limit > 0 && len(out) > p.Limit {
		out = out[:p.Limit]
	}
	evs := make([]asyncmqtype.Event, len(out))
	for i, pe := range out {
		evs[i] = pe.e
	}
	return evs, nil
}

// newest reads up to limit of the newest events of each stream, merged newest first.
func (s *Store) newest(ctx context.Context, queue string, limit int) ([]asyncmqtype.Event, error) {
	streams, _, err := s.eventStreams(ctx, queue)
	if err != nil {
		return nil, err
	}
	var out []posEvent
	for _, st := range streams {
		end := "+"
		got := 0
		for got < limit {
			msgs, err := s.rdb.XRevRangeN(ctx, st, end, "-", int64(max(limit, 100))).Result()
			if err != nil {
				return nil, fmt.Errorf("read the newest events: %w", err)
			}
			for _, m := range msgs {
				evs := s.decodeEntry(m)
				for i := len(evs) - 1; i >= 0; i-- {
					if queue == "" || evs[i].e.Queue == queue {
						out = append(out, evs[i])
						got++
					}
				}
			}
			if len(msgs) < max(limit, 100) {
				break
			}
			end = "(" + msgs[len(msgs)-1].ID
		}
	}
	slices.SortStableFunc(out, func(a, b posEvent) int { return b.pos.compare(a.pos) })
	if len(out) > limit {
		out = out[:limit]
	}
	evs := make([]asyncmqtype.Event, len(out))
	for i, pe := range out {
		evs[i] = pe.e
	}
	return evs, nil
}

// RecentEvents returns the newest events, newest first.
func (s *Store) RecentEvents(ctx context.Context, p asyncmqtype.RecentEventsParams) ([]asyncmqtype.Event, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return s.newest(ctx, p.Queue, p.Limit)
}

// LastEventCursor returns the cursor of the newest event, "" when there is none.
func (s *Store) LastEventCursor(ctx context.Context) (string, error) {
	if err := s.guard(ctx); err != nil {
		return "", err
	}
	evs, err := s.newest(ctx, "", 1)
	if err != nil || len(evs) == 0 {
		return "", err
	}
	return evs[0].Cursor, nil
}
