package dashboard

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sharedLoadTimeout bounds one load of a shared value. The load runs apart from the request
// that started it, so that a client going away does not fail everyone waiting on the same load.
const sharedLoadTimeout = 10 * time.Second

// shared keeps a value that is the same for every viewer, such as the overview's queue counts,
// for at most ttl, and loads it once however many requests ask at the same moment: fifty
// browsers refreshing the overview cost one set of backend reads per ttl, not fifty.
// invalidate drops the value at once, when a change is known.
type shared[T any] struct {
	ttl  time.Duration
	load func(context.Context) (T, error)

	mu sync.Mutex
	// gen counts invalidations; a value or load of an older generation is not handed out to
	// requests that arrive after the invalidation.
	gen    uint64
	val    T
	valAt  time.Time
	valGen uint64
	has    bool
	call   *sharedCall[T]
}

// sharedCall is one load in progress, which requests of its generation wait for.
type sharedCall[T any] struct {
	gen  uint64
	done chan struct{}
	val  T
	err  error
}

func newShared[T any](ttl time.Duration, load func(context.Context) (T, error)) *shared[T] {
	return &shared[T]{ttl: ttl, load: load}
}

// get returns the value if it is fresh, or waits for a load, starting one if none of the
// current generation runs. It returns ctx's error if ctx ends first; the load goes on.
func (s *shared[T]) get(ctx context.Context) (T, error) {
	s.mu.Lock()
	if s.has && s.valGen == s.gen && time.Since(s.valAt) < s.ttl {
		v := s.val
		s.mu.Unlock()
		return v, nil
	}
	c := s.call
	if c == nil || c.gen != s.gen {
		c = &sharedCall[T]{gen: s.gen, done: make(chan struct{})}
		s.call = c
		go s.run(context.WithoutCancel(ctx), c)
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (s *shared[T]) run(ctx context.Context, c *sharedCall[T]) {
	ctx, cancel := context.WithTimeout(ctx, sharedLoadTimeout)
	defer cancel()
	start := time.Now()
	defer func() {
		// A panicking load would otherwise take the process down: it is not on a request's
		// goroutine, where net/http would recover it.
		if p := recover(); p != nil {
			c.err = fmt.Errorf("load shared dashboard data: panic: %v", p)
		}
		s.mu.Lock()
		if c.err == nil && c.gen == s.gen {
			// The value is as old as the moment its load began.
			s.val, s.valAt, s.valGen, s.has = c.val, start, c.gen, true
		}
		if s.call == c {
			s.call = nil
		}
		s.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = s.load(ctx)
}

// invalidate makes the next get load afresh.
func (s *shared[T]) invalidate() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
}
