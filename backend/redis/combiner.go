package redis

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// enqueueCombiner merges Enqueue calls made at the same time by many goroutines into one script
// call per queue: a goroutine that finds a lane idle sends its call at once, and calls that
// arrive meanwhile go together in the next script call (in one pipeline across queues). Each
// call is still stored all-or-nothing on its own and gets its own error. This keeps Redis's
// per-call cost (parsing, script setup) to a fraction of a job at any concurrency.
type enqueueCombiner struct {
	s  *Store
	in *handoff[*enqReq]
	wg sync.WaitGroup
}

type enqReq struct {
	ctx   context.Context
	queue string
	now   time.Time
	jobs  []*asyncmqtype.JobInfo
	// plain marks jobs a transaction of plain commands stores (see fastenq.go).
	plain bool
	// stored is what the script stored each job as (see groupReply), set before done is sent.
	stored []int64
	done   chan error
}

const (
	// combineLanes is how many combined script calls are in flight at once. Each call costs Redis
	// about 40 µs on top of its jobs, so fewer, fuller calls cost less: with 50 producers, two
	// lanes carry about 16 jobs a call against 9 for four, and cut Redis CPU per job by 14%
	// (BenchmarkEnqueueParallel) while one call runs as the next fills.
	combineLanes   = 2
	combineMaxJobs = 2000
)

func newEnqueueCombiner(s *Store) *enqueueCombiner {
	c := &enqueueCombiner{s: s, in: newHandoff[*enqReq](4096)}
	for range combineLanes {
		c.wg.Go(c.loop)
	}
	return c
}

// reqPool keeps enqReqs, with their done channels, between calls: a producer making one call
// after another would otherwise allocate both for every job it enqueues. A request goes back
// once its caller has read done; the loops never touch a request after answering it.
var reqPool = sync.Pool{New: func() any { return &enqReq{done: make(chan error, 1)} }}

// submit stores jobs and returns what each was stored as, in order (see groupReply).
func (c *enqueueCombiner) submit(ctx context.Context, queue string, now time.Time, jobs []*asyncmqtype.JobInfo, plain bool) ([]int64, error) {
	r := reqPool.Get().(*enqReq)
	r.ctx, r.queue, r.now, r.jobs, r.plain = ctx, queue, now, jobs, plain
	err := c.in.send(ctx, r)
	if err == nil {
		// Once handed over, the call is on its way to Redis: wait for its outcome rather than
		// report a cancellation for jobs that may be stored. go-redis's read timeout bounds the
		// wait.
		err = <-r.done
	}
	stored := r.stored
	*r = enqReq{done: r.done}
	reqPool.Put(r)
	if err != nil {
		return nil, err
	}
	return stored, nil
}

func (c *enqueueCombiner) loop() {
	sc := new(plainScratch)
	var batch []*enqReq
	for {
		select {
		case <-c.in.stop:
			return
		case first := <-c.in.queue:
			if len(batch) > 1 {
				c.gather()
			}
			batch = append(batch[:0], first)
			n := len(first.jobs)
		fill:
			for n < combineMaxJobs {
				select {
				case r := <-c.in.queue:
					batch = append(batch, r)
					n += len(r.jobs)
				default:
					break fill
				}
			}
			c.run(batch, sc)
			clear(batch) // the requests go back to reqPool
		}
	}
}

// combineYields bounds how many times gather yields.
const combineYields = 4

// gather lets the producers that are ready to run hand over their calls before the lane takes
// its batch. Answering a batch readies its producers on the lane's own processor, behind the
// lane, so without a yield the lane would send the next batch with the few calls that came in
// meanwhile, and the producers' calls would make a batch of their own after it. With 50
// producers, a batch grew from 14 calls to 20 and the client's CPU per job fell by a sixth. The
// lane yields while calls keep coming, and only after a batch of more than one call: a lone
// producer's next call goes out at once.
func (c *enqueueCombiner) gather() {
	for range combineYields {
		n := len(c.in.queue)
		runtime.Gosched()
		if len(c.in.queue) == n {
			return
		}
	}
}

func (c *enqueueCombiner) run(batch []*enqReq, sc *plainScratch) {
	// Taken first: a request answered below may be reused at once (reqPool).
	ctx := context.WithoutCancel(batch[0].ctx)
	groups, plain := map[string][]*enqReq{}, map[string][]*enqReq{}
	var order, plainOrder []string
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		g, o := groups, &order
		if r.plain {
			g, o = plain, &plainOrder
		}
		if _, ok := g[r.queue]; !ok {
			*o = append(*o, r.queue)
		}
		g[r.queue] = append(g[r.queue], r)
	}
	if len(plainOrder) > 0 {
		c.runPlain(ctx, plain, plainOrder, sc)
	}
	if len(order) == 0 {
		return
	}
	calls := make([]call, len(order))
	for i, q := range order {
		args := []any{len(groups[q])}
		for _, r := range groups[q] {
			args = append(args, micros(r.now), len(r.jobs))
			for _, j := range r.jobs {
				args = append(args, jobArgs(j)...)
			}
		}
		calls[i] = c.s.queueCall(scriptEnqueue, q, time.Time{}, nil, args...)
	}
	for i, res := range c.s.evalMany(ctx, calls) {
		q := order[i]
		rs := groups[q]
		if res.err != nil {
			for _, r := range rs {
				r.done <- fmt.Errorf("enqueue %d jobs in queue %q: %w", len(r.jobs), q, res.err)
			}
			continue
		}
		arr, _ := res.val.([]any)
		i := 0
		var bad error
		for _, r := range rs {
			if bad != nil {
				r.done <- fmt.Errorf("enqueue %d jobs in queue %q: read the reply: %w", len(r.jobs), q, bad)
				continue
			}
			var stored []int64
			var made bool
			var refused error
			stored, made, i, refused, bad = groupReply(arr, i, len(r.jobs))
			if bad != nil {
				// The jobs may be stored: the reply is malformed, not the enqueue failed.
				r.done <- fmt.Errorf("enqueue %d jobs in queue %q: read the reply: %w", len(r.jobs), q, bad)
				continue
			}
			if refused != nil {
				r.done <- fmt.Errorf("enqueue %d jobs in queue %q: %w", len(r.jobs), q, refused)
				continue
			}
			if made {
				// Before any caller returns, so that it finds the queue listed.
				c.s.queueCreated(ctx, q)
			}
			r.stored = stored
			r.done <- nil
		}
	}
}

// close ends the loops after the script calls they are running; calls still queued get
// errClosed, and none of their jobs is stored.
func (c *enqueueCombiner) close() {
	c.in.close(c.wg.Wait, func(r *enqReq) { r.done <- errClosed() })
}
