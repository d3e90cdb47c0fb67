package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/jobid"
	goredis "github.com/redis/go-redis/v9"
)

// Plain enqueues skip the enqueue script. Most jobs are plain: an ID asyncmq made for the call
// (EnqueueParams.FreshIDs), runnable at once, no unique key, no parents. Such a job cannot be
// refused, so storing it needs no check and no branch, only the writes the script would make;
// these go in one MULTI/EXEC transaction per queue, which Redis runs as atomically as a script.
// Through the script, a job enqueued by one of 25 concurrent producers cost Redis 154k
// instructions; as commands, 58k (scripts/redis-callgrind.sh), and 36k once jobs were packed
// (record.go). The records, index members and stream entries written are the script's
// (enqueue_write in enqueue_lib.lua, ev_entry in prelude.lua), so every other script and reader
// sees no difference.
//
// On a single server, a plain job whose ID is sealed, as every ID NewID makes is, is not written
// to the ID index: a lookup that misses the index asks the queues for sealed IDs (global.go). The
// index cost Redis about a fifth of a bulk enqueue. A plain job with another ID is indexed as
// before, and on Cluster enqueueQueue reserves every ID in the index before the transaction.
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

// appendReadyMember appends rmember of prelude.lua: a job's member in the ready set, which orders
// members by priority, then run-at, then ID, as fixed-width text.
func appendReadyMember(b []byte, priority int, runAt time.Time, id string) []byte {
	p := int64(min(max(priority, -2147483648), 2147483647)) + 2147483648
	b = appendPadded(b, p, 11)
	b = appendPadded(b, max(runAt.UnixMicro(), 0), 17)
	return append(b, id...)
}

func appendPadded(b []byte, n int64, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], n, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// appendMicros appends micros(t).
func appendMicros(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '0')
	}
	return strconv.AppendInt(b, t.UnixMicro(), 10)
}

// appendPlainRecord appends the packed record of a plain job (the fields enqueue_write of
// enqueue_lib.lua stores for a waiting job, in its order); opt are its optional fields, field then
// value.
func appendPlainRecord(b []byte, j *asyncmqtype.JobInfo, opt []string) []byte {
	n := 12 + len(opt)
	if len(j.Payload) > 0 {
		n += 2
	}
	var tmp [20]byte
	b = appendArrayHeader(b, n)
	b = appendStr(appendStr(b, "t"), j.Task)
	b = appendStr(appendStr(b, "ca"), appendMicros(tmp[:0], j.CreatedAt))
	b = appendStr(appendStr(b, "st"), "waiting")
	b = appendIntStr(appendStr(b, "pr"), int64(j.Priority))
	b = appendIntStr(appendStr(b, "mr"), int64(j.MaxRetries))
	b = appendStr(appendStr(b, "ra"), appendMicros(tmp[:0], j.RunAt))
	if len(j.Payload) > 0 {
		b = appendStr(appendStr(b, "p"), j.Payload)
	}
	for _, v := range opt {
		b = appendStr(b, v)
	}
	return b
}

// plainTx is what queuePlain queued for one queue: the command that answers whether the call
// made the queue known (HSETNX of its mark), and the events it appended to the queue's stream.
type plainTx struct {
	known   *goredis.BoolCmd
	stream  string
	events  int
	entries int
}

// plainScratch is the memory a lane builds its plain transactions' commands in, kept from one
// transaction to the next: a transaction's commands are done with once it returns, so the next
// may write over what they held. Within a transaction queuePlain only appends to strs and args,
// which the queued commands point into.
type plainScratch struct {
	ends            []int
	strs            []string
	args            []any
	ids, tasks, ats []string
	opt             []string
}

// reset readies sc for the next transaction, dropping what pins the last one's jobs.
func (sc *plainScratch) reset() {
	// Every slice: a substring of the batch's text (an event's time in ats) would keep the whole
	// text, payloads included, until the lane's next transaction, which may never come.
	clear(sc.strs)
	clear(sc.args)
	clear(sc.ids)
	clear(sc.tasks)
	clear(sc.ats)
	clear(sc.opt)
	sc.strs, sc.args = sc.strs[:0], sc.args[:0]
	sc.ids, sc.tasks, sc.ats, sc.opt = sc.ids[:0], sc.tasks[:0], sc.ats[:0], sc.opt[:0]
}

// grow extends *xs by n elements and returns them.
func grow[T any](xs *[]T, n int) []T {
	from := len(*xs)
	*xs = slices.Grow(*xs, n)[:from+n]
	return (*xs)[from : from+n : from+n]
}

// queuePlain queues on tx the writes of the plain enqueue requests rs of one queue, all but the
// event counter, which runPlainTx adds once per stream.
//
// The text a job needs beyond its own fields (its record, created-at score and ready member) is
// written into one new buffer for all the jobs and cut into strings, and the commands' arguments
// point at those strings and at the jobs' fields (go-redis writes a *string as the string), in
// slices sc keeps: an argument costs no allocation of its own, and a batch one.
func (s *Store) queuePlain(ctx context.Context, tx goredis.Pipeliner, queue string, rs []*enqReq, sc *plainScratch) plainTx {
	k := s.queueKeys(queue)
	var out plainTx
	out.known = tx.HSetNX(ctx, k.meta(), "k", "1")
	if !s.cluster {
		tx.SAdd(ctx, s.queuesKey(), queue)
		tx.SAdd(ctx, s.allqKey(), queue)
	}
	n, size := 0, 0
	for _, r := range rs {
		for _, j := range r.jobs {
			n++
			size += 128 + 2*len(j.ID) + len(j.Task) + len(j.Payload)
		}
	}
	// Per request its time (for the events), then per job its record, created-at and ready member.
	buf := make([]byte, 0, size)
	ends := sc.ends[:0]
	for _, r := range rs {
		buf = appendMicros(buf, r.now)
		ends = append(ends, len(buf))
		for _, j := range r.jobs {
			sc.opt = sc.opt[:0]
			visitOptional(j, func(_ byte, field, v string) { sc.opt = append(sc.opt, field, v) })
			buf = appendPlainRecord(buf, j, sc.opt)
			ends = append(ends, len(buf))
			buf = appendMicros(buf, j.CreatedAt)
			ends = append(ends, len(buf))
			if !inLane(j) {
				buf = appendReadyMember(buf, j.Priority, j.RunAt, j.ID)
			}
			ends = append(ends, len(buf))
		}
	}
	sc.ends = ends
	// As strings.Builder does: buf is new and never written again, so its strings need no copy.
	text := unsafe.String(unsafe.SliceData(buf), len(buf))
	strs := grow(&sc.strs, len(ends))
	from := 0
	for i, e := range ends {
		strs[i], from = text[from:e], e
	}

	w := 2 + 2*n
	args := grow(&sc.args, 4*w)
	packed := append(args[0:0:w], "hset", k.packed())
	waiting := append(args[w:w:2*w], "zadd", k.state(asyncmqtype.StateWaiting.Index()))
	ready := append(args[2*w:2*w:3*w], "zadd", k.ready())
	lane := append(args[3*w:3*w:4*w], "zadd", k.lane())
	// On a single server, for IDs that are not sealed (from a caller of the store other than
	// asyncmq.Client); on Cluster enqueueQueue has indexed every ID.
	var jobq []any
	qarg := any(queue) // boxed once for all the jobs
	ev := eventBatch{queue: queue, ids: sc.ids[:0], tasks: sc.tasks[:0], ats: sc.ats[:0]}
	i := 0
	for _, r := range rs {
		at := strs[i]
		i++
		for _, j := range r.jobs {
			packed = append(packed, &j.ID, &strs[i])
			if inLane(j) {
				lane = append(lane, &strs[i+1], &j.ID)
			} else {
				waiting = append(waiting, &strs[i+1], &j.ID)
				ready = append(ready, "0", &strs[i+2])
			}
			if !s.cluster && !jobid.Sealed(j.ID) {
				if jobq == nil {
					jobq = []any{"hset", s.jobqKey()}
				}
				jobq = append(jobq, &j.ID, qarg)
			}
			ev.add(j.ID, j.Task, at)
			i += 3
		}
	}
	sc.ids, sc.tasks, sc.ats = ev.ids, ev.tasks, ev.ats
	tx.Do(ctx, packed...)
	for _, zadd := range [][]any{waiting, ready, lane} {
		if len(zadd) > 2 {
			tx.Do(ctx, zadd...)
		}
	}
	if jobq != nil {
		tx.Do(ctx, jobq...)
	}
	out.stream = k.events()
	out.entries = ev.write(ctx, tx, out.stream)
	out.events = n
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

// runPlain stores the plain requests of each queue and answers each request: in one
// transaction on a single server, in one per queue on Cluster, where a transaction must stay in
// one slot (the queues' transactions then run at once).
func (c *enqueueCombiner) runPlain(ctx context.Context, groups map[string][]*enqReq, order []string, sc *plainScratch) {
	if !c.s.cluster || len(order) == 1 {
		c.runPlainTx(ctx, groups, order, sc)
		return
	}
	var wg sync.WaitGroup
	for _, q := range order {
		wg.Go(func() { c.runPlainTx(ctx, groups, []string{q}, new(plainScratch)) })
	}
	wg.Wait()
}

// afterPlainTx, when set (by tests only), runs between a plain enqueue's transaction and its trim.
var afterPlainTx func()

// streamAdds is what one transaction appended to one event stream.
type streamAdds struct {
	queue           string // a queue writing to the stream, whose keys the trim script gets
	events, entries int
	counter         *goredis.IntCmd
}

// runPlainTx stores the plain requests of the queues of order in one transaction and answers
// them. Each stream's counter grows once by all the events the transaction appended to it; a
// stream that went over its bound, or whose counter was missing, is then trimmed as the
// enqueue script would have at its end.
func (c *enqueueCombiner) runPlainTx(ctx context.Context, groups map[string][]*enqReq, order []string, sc *plainScratch) {
	s := c.s
	defer sc.reset()
	txs := make([]plainTx, len(order))
	adds := map[string]*streamAdds{}
	var streams []string
	cmds, err := s.rdb.TxPipelined(ctx, func(tx goredis.Pipeliner) error {
		for i, q := range order {
			t := s.queuePlain(ctx, tx, q, groups[q], sc)
			txs[i] = t
			a := adds[t.stream]
			if a == nil {
				a = &streamAdds{queue: q}
				adds[t.stream] = a
				streams = append(streams, t.stream)
			}
			a.events += t.events
			a.entries += t.entries
		}
		for _, st := range streams {
			adds[st].counter = tx.IncrBy(ctx, st+":n", int64(adds[st].events))
		}
		return nil
	})
	err = s.wrapRedisErr(txError(err, cmds))
	if err == nil {
		// Before the callers return, as the script trims before it returns: a caller reading
		// the events next finds the stream within its bound.
		if afterPlainTx != nil {
			afterPlainTx()
		}
		for _, st := range streams {
			s.trimAfterPlain(ctx, adds[st])
		}
	}
	for i, q := range order {
		made, kerr := txs[i].known.Result()
		qerr := err
		if qerr == nil {
			qerr = s.wrapRedisErr(kerr)
		}
		for _, r := range groups[q] {
			if qerr != nil {
				r.done <- fmt.Errorf("enqueue %d jobs in queue %q: %w", len(r.jobs), q, qerr)
				continue
			}
			if made {
				// Before any caller returns, so that it finds the queue listed.
				s.queueCreated(ctx, q)
				s.markNoOldParents(ctx, q)
				made = false
			}
			r.stored = waitingStates(len(r.jobs))
			r.done <- nil
		}
	}
}

// allWaiting backs waitingStates; nobody writes to it.
var allWaiting [64]int64

// waitingStates returns what n plain jobs are stored as (0, waiting, each), in a slice its
// readers must not change: shared for up to 64 jobs, where a slice per call would cost an
// allocation per job enqueued.
func waitingStates(n int) []int64 {
	if n <= len(allWaiting) {
		return allWaiting[:n:n]
	}
	return make([]int64, n)
}

// txError is the error that made a transaction fail: a command Redis refused while queueing
// it (OOM when full) makes EXEC answer only EXECABORT, which does not say why.
func txError(err error, cmds []goredis.Cmder) error {
	if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		return err
	}
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil && !strings.HasPrefix(cerr.Error(), "EXECABORT") {
			return cerr
		}
	}
	return err
}

// trimAfterPlain trims a stream a plain enqueue appended to when its counter went over the
// bound, or was missing before the transaction (its INCRBY read just the added events).
func (s *Store) trimAfterPlain(ctx context.Context, a *streamAdds) {
	n := a.counter.Val()
	missing := n == int64(a.events)
	if !missing && n <= s.events+max(s.events/10, 1) {
		return
	}
	flag := "0"
	if missing {
		flag = "1"
	}
	call := s.queueCall(scriptTrim, a.queue, time.Time{}, nil, flag, a.events, a.entries)
	if _, err := s.eval(ctx, call); err != nil {
		s.log.Warn("asyncmq redis: trim the event stream", "queue", a.queue, "err", err)
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
