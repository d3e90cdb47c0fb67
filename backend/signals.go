package backend

import "sync"

// Signals fans wake-up signals out to the subscribers of each queue, within one process. Stores
// use it to implement Notifier.Subscribe: they call Notify after a transition that may have made
// a queue's jobs claimable (and, for stores that notify across processes, when a signal arrives
// from another process). The zero value is ready to use; it is safe for concurrent use, and
// Notify never blocks.
type Signals struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// Subscribe returns a channel with a buffer of one that receives a value after Notify(queue),
// coalescing signals while one is pending, and a function that ends the subscription.
func (s *Signals) Subscribe(queue string) (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	if s.subs == nil {
		s.subs = make(map[string]map[chan struct{}]struct{})
	}
	if s.subs[queue] == nil {
		s.subs[queue] = make(map[chan struct{}]struct{})
	}
	s.subs[queue][c] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs[queue], c)
			if len(s.subs[queue]) == 0 {
				delete(s.subs, queue)
			}
			s.mu.Unlock()
		})
	}
}

// Notify signals every subscriber of queue.
func (s *Signals) Notify(queue string) {
	s.mu.Lock()
	for c := range s.subs[queue] {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

// Subscribed reports whether queue has a subscriber, so a store can skip the cost of telling
// other processes about a queue nobody waits for.
func (s *Signals) Subscribed(queue string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs[queue]) > 0
}
