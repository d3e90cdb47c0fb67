package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

// Plain enqueues skip the enqueue script. Most jobs are plain: an ID asyncmq made for the call
// (EnqueueParams.FreshIDs), runnable at once, no unique key, no parents. Such a job cannot be
// refused, so storing it needs no check and no branch, only the writes the script would make;
// these go in one MULTI/EXEC transaction per queue, which Redis runs as atomically as a script.
// Running the script's Lua for each job cost Redis about 40% more CPU than the same writes as
// commands (BenchmarkEnqueueParallel). The keys, fields and stream entries written are the
// script's (enqueue_write and ev_entry in prelude.lua), so every other script and reader sees
// no difference.
//
// The one difference is whose clock decides that a job is due. The script compares RunAt with
// the call's Now, or with the Redis server's clock when Now is zero; a plain enqueue needs a
// Now (the client always sends one) and RunAt not after it. The claim script still compares
// RunAt with the server's clock, so a job is never started before its RunAt whichever path
// stored it.

// plainEnqueue reports whether every job of p can be stored by a plain enqueue.
func plainEnqueue(p backend.EnqueueParams) bool {
	if !p.FreshIDs || p.Now.IsZero() {
		return false
	}
	for _, j := range p.Jobs {
		if j.UniqueKey != "" || len(j.DependsOn) > 0 || j.CreatedAt.IsZero() || j.RunAt.IsZero() ||
			j.RunAt.After(p.Now) || j.RunAt.UnixMicro() <= 0 ||
			// A field holding the event separator gets a stream entry of its own (flush_events).
			strings.Contains(j.ID, depSep) || strings.Contains(j.Task, depSep) {
			return false
		}
	}
	return true
}

// readyMember is rmember of prelude.lua: a job's member in the ready set, which orders members by
// priority, then run-at, then ID, as fixed-width text.
func readyMember(priority int, runAt time.Time, id string) string {
	p := int64(min(max(priority, -2147483648), 2147483647)) + 2147483648
	b := make([]byte, 0, 28+len(id))
	b = appendPadded(b, p, 11)
	b = appendPadded(b, max(runAt.UnixMicro(), 0), 17)
	return string(append(b, id...))
}

func appendPadded(b []byte, n int64, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], n, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// plainTx queues the writes of the plain enqueue requests rs of one queue on tx. The returned
// commands answer whether the call made the queue known (HSETNX of its mark) and what the event
// counter read after the call's events (INCRBY).
type plainTx struct {
	known   *goredis.BoolCmd
	counter *goredis.IntCmd
	events  int
	entries int
}

func (s *Store) queuePlain(ctx context.Context, tx goredis.Pipeliner, queue string, rs []*enqReq) plainTx {
	k := s.queueKeys(queue)
	var out plainTx
	out.known = tx.HSetNX(ctx, k.meta(), "k", "1")
	if !s.cluster {
		tx.SAdd(ctx, s.queuesKey(), queue)
		tx.SAdd(ctx, s.allqKey(), queue)
	}
	n := 0
	for _, r := range rs {
		n += len(r.jobs)
	}
	waiting := make([]any, 0, 2+2*n)
	waiting = append(waiting, "zadd", k.list[2])
	ready := make([]any, 0, 2+2*n)
	ready = append(ready, "zadd", k.list[1])
	var jobq []any
	if !s.cluster {
		jobq = make([]any, 0, 2+2*n)
		jobq = append(jobq, "hset", s.jobqKey())
	}
	ev := eventBatch{queue: queue}
	for _, r := range rs {
		at := micros(r.now)
		for _, j := range r.jobs {
			ca, ra := micros(j.CreatedAt), micros(j.RunAt)
			f := make([]any, 0, 2+14+2*4)
			f = append(f, "hset", k.job(j.ID), "t", j.Task, "st", "waiting",
				"pr", strconv.Itoa(j.Priority), "mr", strconv.Itoa(j.MaxRetries), "ra", ra, "ca", ca)
			if len(j.Payload) > 0 {
				f = append(f, "p", string(j.Payload))
			}
			visitOptional(j, func(_ byte, field, v string) { f = append(f, field, v) })
			tx.Do(ctx, f...)
			waiting = append(waiting, ca, j.ID)
			ready = append(ready, "0", readyMember(j.Priority, j.RunAt, j.ID))
			if jobq != nil {
				jobq = append(jobq, j.ID, queue)
			}
			ev.add(j.ID, j.Task, at)
		}
	}
	tx.Do(ctx, waiting...)
	tx.Do(ctx, ready...)
	if jobq != nil {
		tx.Do(ctx, jobq...)
	}
	out.entries = ev.write(ctx, tx, k.events())
	out.events = n
	out.counter = tx.IncrBy(ctx, k.events()+":n", int64(n))
	tx.Do(ctx, "spublish", k.wake(), "1")
	return out
}

// eventBatch gathers job:enqueued events and writes them as the stream entries flush_events
// writes: one entry per evPerEntry events, with the fields every event shares written once.
type eventBatch struct {
	queue           string
	ids, tasks, ats []string
}

// evPerEntry is EV_PER_ENTRY of prelude.lua.
const evPerEntry = 256

func (b *eventBatch) add(id, task, at string) {
	b.ids = append(b.ids, id)
	b.tasks = append(b.tasks, task)
	b.ats = append(b.ats, at)
}

// write queues the entries on tx and returns how many it wrote.
func (b *eventBatch) write(ctx context.Context, tx goredis.Pipeliner, stream string) int {
	entries := 0
	for from := 0; from < len(b.ids); from += evPerEntry {
		to := min(from+evPerEntry, len(b.ids))
		entries++
		if to-from == 1 {
			tx.Do(ctx, "xadd", stream, "*", "t", "job:enqueued", "q", b.queue, "j", b.ids[from],
				"k", b.tasks[from], "s", "waiting", "a", b.ats[from], "d", "")
			continue
		}
		args := []any{"xadd", stream, "*", "n", strconv.Itoa(to - from), "q", b.queue,
			"J", strings.Join(b.ids[from:to], depSep), "t", "job:enqueued"}
		args = appendColumn(args, "k", b.tasks[from:to])
		args = append(args, "s", "waiting")
		args = appendColumn(args, "a", b.ats[from:to])
		args = append(args, "d", "")
		tx.Do(ctx, args...)
	}
	return entries
}

// appendColumn is ev_field of prelude.lua: the field once under its name when every event
// shares its value, else every value joined under the upper-case name.
func appendColumn(args []any, name string, vals []string) []any {
	for _, v := range vals[1:] {
		if v != vals[0] {
			return append(args, strings.ToUpper(name), strings.Join(vals, depSep))
		}
	}
	return append(args, name, vals[0])
}

// runPlain stores the plain requests of each queue, one transaction for all of them (one per
// slot on Cluster), and answers each request. Then it trims the event streams that went over
// their bound, as the enqueue script would have at its end.
func (c *enqueueCombiner) runPlain(ctx context.Context, groups map[string][]*enqReq, order []string) {
	s := c.s
	txs := make([]plainTx, len(order))
	_, err := s.rdb.TxPipelined(ctx, func(tx goredis.Pipeliner) error {
		for i, q := range order {
			txs[i] = s.queuePlain(ctx, tx, q, groups[q])
		}
		return nil
	})
	err = s.wrapRedisErr(err)
	for i, q := range order {
		made, kerr := txs[i].known.Result()
		if err == nil {
			err = s.wrapRedisErr(kerr)
		}
		for _, r := range groups[q] {
			if err != nil {
				r.done <- fmt.Errorf("enqueue %d jobs in queue %q: %w", len(r.jobs), q, err)
				continue
			}
			if made {
				// Before any caller returns, so that it finds the queue listed.
				s.queueCreated(ctx, q)
				s.markNoOldParents(ctx, q)
				made = false
			}
			r.stored = make([]int64, len(r.jobs))
			r.done <- nil
		}
	}
	if err != nil {
		return
	}
	for i, q := range order {
		t := txs[i]
		n := t.counter.Val()
		if n != int64(t.events) && n <= s.events+max(s.events/10, 1) {
			continue
		}
		call := s.queueCall(scriptTrim, q, time.Time{}, nil, n, t.events, t.entries)
		if _, err := s.eval(ctx, call); err != nil {
			s.log.Warn("asyncmq redis: trim the event stream", "queue", q, "err", err)
		}
	}
}

// markNew sets the 'nc' mark of a queue meta hash that has the known mark 'k': a queue removed
// in the meantime is not brought back.
var markNew = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'k') == 1 then redis.call('HSET', KEYS[1], 'nc', '1') end
return ''
`)

// markNoOldParents sets the 'nc' mark of a queue a plain enqueue made (known() sets it in the
// scripts; see may_have_children in prelude.lua): the finish script then reads a job's list of
// children only once a child was enqueued in the queue. Until the mark lands, and if it fails,
// the queue is read as before, which is only slower.
func (s *Store) markNoOldParents(ctx context.Context, queue string) {
	if err := markNew.Run(ctx, s.rdb, []string{s.queueKeys(queue).meta()}).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		s.log.Warn("asyncmq redis: mark a new queue", "queue", queue, "err", err)
	}
}
