package sqlite

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// metricsFlushEvery is how long the metric deltas of committed transactions may wait in memory
// before they are written. A claim or finish of a few jobs used to spend about a sixth of its
// transaction on its two metric upserts (one per task, one per queue, each a page or two of the
// log); buffered, a busy queue writes them about twenty times a second instead of once per
// transaction.
const metricsFlushEvery = 50 * time.Millisecond

// metricBuffer holds the metric deltas of committed transactions that are not written yet. The
// writer lock guards pending and writtenAt: only write transactions and their commit hooks touch
// them.
type metricBuffer struct {
	pending   map[metricKey]*metricDelta
	writtenAt time.Time
	// has tells, without the writer lock, whether pending holds deltas.
	has atomic.Bool
	// scheduled is set while a timer is due to write pending.
	scheduled atomic.Bool
}

// add merges the deltas of a committed transaction into pending.
func (m *metricBuffer) add(deltas map[metricKey]*metricDelta) {
	if m.pending == nil {
		m.pending = make(map[metricKey]*metricDelta, len(deltas))
	}
	for k, d := range deltas {
		if p := m.pending[k]; p != nil {
			p.add(d)
		} else {
			m.pending[k] = d
		}
	}
	m.has.Store(true)
}

// written forgets the deltas a committed transaction wrote.
func (m *metricBuffer) written() {
	m.pending = nil
	m.writtenAt = time.Now()
	m.has.Store(false)
}

// withPending returns the deltas of w together with the buffered ones, leaving both unchanged:
// the transaction may still roll back.
func (m *metricBuffer) withPending(own map[metricKey]*metricDelta) map[metricKey]*metricDelta {
	if len(m.pending) == 0 {
		return own
	}
	all := make(map[metricKey]*metricDelta, len(m.pending)+len(own))
	for k, d := range m.pending {
		c := *d
		all[k] = &c
	}
	for k, d := range own {
		if p := all[k]; p != nil {
			p.add(d)
		} else {
			all[k] = d
		}
	}
	return all
}

// scheduleMetricsFlush has the buffered metrics written within metricsFlushEvery, unless a
// write is already due.
func (b *Backend) scheduleMetricsFlush() {
	if b.metricBuf.scheduled.Swap(true) {
		return
	}
	time.AfterFunc(metricsFlushEvery, func() {
		b.metricBuf.scheduled.Store(false)
		if err := b.flushMetrics(context.Background()); err != nil && !errors.Is(err, asyncmqtype.ErrClosed) {
			b.cfg.logger.Warn("write buffered sqlite metrics", "path", b.path, "error", err)
		}
	})
}

// flushMetrics writes the buffered metric deltas, if any, in a transaction of their own.
func (b *Backend) flushMetrics(ctx context.Context) error {
	if !b.metricBuf.has.Load() {
		return nil
	}
	return b.write(ctx, b.now(), func(w *wtx) error {
		w.forceMetrics = true
		return nil
	})
}
