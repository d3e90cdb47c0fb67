package redis

import (
	"context"
	"sync"
)

// handoff is the door of a queue that goroutines hand requests to and background loops serve. It
// makes closing safe: once close has begun no request can enter, and every request that entered
// but no loop took is answered by drain, so no caller waits for a reply that never comes.
type handoff[T any] struct {
	mu     sync.RWMutex
	closed bool
	queue  chan T
	stop   chan struct{}
}

func newHandoff[T any](size int) *handoff[T] {
	return &handoff[T]{queue: make(chan T, size), stop: make(chan struct{})}
}

// send queues r, or reports why it could not: errClosed once close has begun, ctx's error when
// ctx ends while the queue is full.
func (h *handoff[T]) send(ctx context.Context, r T) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return errClosed()
	}
	// The queue is seldom full: a send alone costs less than a select with ctx.
	select {
	case h.queue <- r:
		return nil
	default:
	}
	select {
	case h.queue <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops new sends and signals the loops (through stop); it runs wait, which must return
// once every loop has ended, then hands each request still queued to refuse.
func (h *handoff[T]) close(wait func(), refuse func(T)) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	wait()
	for {
		select {
		case r := <-h.queue:
			refuse(r)
		default:
			return
		}
	}
}
