package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// notifier fans the queues' wake-up channels (sharded pub/sub, SPUBLISH by the scripts whenever
// a job becomes claimable) out to local subscribers. One connection serves every queue; go-redis
// re-subscribes after a reconnect. A signal may be lost while the connection is down, so
// subscribers keep a slow poll as a safety net.
type notifier struct {
	s    *Store
	mu   sync.Mutex
	ps   *goredis.PubSub
	subs map[string]map[chan struct{}]struct{} // channel name -> subscribers
	stop chan struct{}
	wg   sync.WaitGroup
}

func newNotifier(s *Store) *notifier {
	return &notifier{s: s, subs: map[string]map[chan struct{}]struct{}{}, stop: make(chan struct{})}
}

// Subscribe returns a channel that receives a signal (coalesced: at most one pending) whenever
// queue may have runnable jobs, from any process sharing the Redis, and a function that ends
// the subscription. Signals arrive within a round trip of the transition that caused them.
func (s *Store) Subscribe(queue string) (<-chan struct{}, func()) {
	return s.notify.subscribe(s.queueKeys(queue).wake())
}

func (n *notifier) subscribe(name string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx := context.Background()
	if n.ps == nil {
		n.ps = n.s.rdb.SSubscribe(ctx, name)
		n.wg.Go(func() { n.run(n.ps) })
	} else if n.subs[name] == nil {
		if err := n.ps.SSubscribe(ctx, name); err != nil {
			n.s.log.Warn("asyncmq redis: subscribe to wake-ups", "err", err)
		}
	}
	if n.subs[name] == nil {
		n.subs[name] = map[chan struct{}]struct{}{}
	}
	n.subs[name][ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			delete(n.subs[name], ch)
			if len(n.subs[name]) == 0 {
				delete(n.subs, name)
				if n.ps != nil {
					_ = n.ps.SUnsubscribe(context.Background(), name)
				}
			}
		})
	}
}

func (n *notifier) run(ps *goredis.PubSub) {
	msgs := ps.Channel()
	for {
		select {
		case <-n.stop:
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			n.mu.Lock()
			for ch := range n.subs[m.Channel] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			n.mu.Unlock()
		}
	}
}

func (n *notifier) close() {
	close(n.stop)
	n.mu.Lock()
	if n.ps != nil {
		_ = n.ps.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}
