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
	s     *Store
	queue chan *pending
	wg    sync.WaitGroup
	stop  chan struct{}
}

const (
	pipeLanes   = 4
	pipeMaxCall = 128
)

func newPipeliner(s *Store) *pipeliner {
	p := &pipeliner{s: s, queue: make(chan *pending, 4096), stop: make(chan struct{})}
	for range pipeLanes {
		p.wg.Go(p.loop)
	}
	return p
}

func (p *pipeliner) submit(ctx context.Context, c call) result {
	req := &pending{ctx: ctx, c: c, done: make(chan result, 1)}
	select {
	case p.queue <- req:
	case <-ctx.Done():
		return result{err: ctx.Err()}
	case <-p.stop:
		return result{err: errClosed()}
	}
	// Once handed over, the call is on its way to Redis: wait for its outcome rather than report
	// a cancellation for a transition that may have happened. go-redis's read timeout bounds it.
	return <-req.done
}

func (p *pipeliner) loop() {
	batch := make([]*pending, 0, pipeMaxCall)
	for {
		select {
		case <-p.stop:
			return
		case first := <-p.queue:
			batch = append(batch[:0], first)
		fill:
			for len(batch) < pipeMaxCall {
				select {
				case r := <-p.queue:
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

func (p *pipeliner) close() {
	close(p.stop)
	p.wg.Wait()
}
