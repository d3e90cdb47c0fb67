package redis

import (
	"context"
	"sync"
)

// result is the reply to one call.
type result struct {
	val any
	err error
}

type pending struct {
	ctx  context.Context
	c    call
	done chan result
}

// pipeliner groups script calls made at the same time by many goroutines into pipelines, the way
// a database groups commits: a goroutine that finds the pipe idle sends its call at once; calls
// that arrive while a pipeline is on the wire go together in the next one. Up to lanes pipelines
// are in flight at once, so one slow pipeline does not stall the rest. Each call still gets its
// own reply and error.
type pipeliner struct {
	s  *Store
	in *handoff[*pending]
	wg sync.WaitGroup
}

const (
	pipeLanes   = 4
	pipeMaxCall = 128
)

func newPipeliner(s *Store) *pipeliner {
	p := &pipeliner{s: s, in: newHandoff[*pending](4096)}
	for range pipeLanes {
		p.wg.Go(p.loop)
	}
	return p
}

func (p *pipeliner) submit(ctx context.Context, c call) result {
	req := &pending{ctx: ctx, c: c, done: make(chan result, 1)}
	if err := p.in.send(ctx, req); err != nil {
		return result{err: err}
	}
	// Once handed over, the call is on its way to Redis: wait for its outcome rather than report
	// a cancellation for a transition that may have happened. go-redis's read timeout bounds it.
	return <-req.done
}

func (p *pipeliner) loop() {
	batch := make([]*pending, 0, pipeMaxCall)
	for {
		select {
		case <-p.in.stop:
			return
		case first := <-p.in.queue:
			batch = append(batch[:0], first)
		fill:
			for len(batch) < pipeMaxCall {
				select {
				case r := <-p.in.queue:
					batch = append(batch, r)
				default:
					break fill
				}
			}
			p.run(batch)
		}
	}
}

func (p *pipeliner) run(batch []*pending) {
	calls := make([]call, 0, len(batch))
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- result{err: err}
			continue
		}
		calls = append(calls, r.c)
		live = append(live, r)
	}
	if len(calls) == 0 {
		return
	}
	res := p.s.evalMany(context.WithoutCancel(live[0].ctx), calls)
	for i, r := range live {
		r.done <- res[i]
	}
}

// close ends the loops after the pipelines they are running; calls still queued get errClosed.
func (p *pipeliner) close() {
	p.in.close(p.wg.Wait, func(r *pending) { r.done <- result{err: errClosed()} })
}
