package asyncmq

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// WorkerConfig configures a Worker. Only Queues is required; every zero field takes the default
// stated on it.
type WorkerConfig struct {
	// Queues maps each queue the worker serves to the number of its jobs the worker runs at once.
	// Required; every concurrency must be at least 1.
	Queues map[string]int

	// LeaseDuration is how long a claim on a job lasts without a heartbeat. A worker that dies
	// holds its jobs this long before another worker may recover them. Default 30s; at least
	// MinLeaseDuration (100ms). Every duration below has a minimum too (HeartbeatInterval and
	// StalledInterval 10ms, PollInterval and ScheduleInterval 1ms), so a value given without its
	// unit is refused, naming the field.
	LeaseDuration time.Duration
	// HeartbeatInterval is how often the worker extends its leases, and so how quickly a running
	// job notices that it was cancelled. It must be shorter than LeaseDuration. Default
	// LeaseDuration/3.
	HeartbeatInterval time.Duration
	// ShutdownTimeout is the grace period of a shutdown: the worker stops claiming, waits this long
	// for running jobs to finish, then cancels their contexts and releases them, without counting
	// the attempt, for another worker. Default 10s.
	ShutdownTimeout time.Duration
	// StalledInterval is how often the worker looks for jobs whose lease expired (their worker
	// died) and queues them again. Default LeaseDuration/2.
	StalledInterval time.Duration
	// MaxStalls is how many lease expiries a job survives; at the next one it fails. Default 1;
	// -1 fails a job at its first stall.
	MaxStalls int
	// PollInterval is the longest wait between two claims on a queue that had no runnable job;
	// the wait starts at 10ms and doubles up to it. It bounds how long a paused queue takes to
	// resume and how long a new job waits for an idle worker. Default 250ms.
	PollInterval time.Duration
	// FetchCooldown is the shortest time between two claims on a busy queue, so that slots freed
	// meanwhile are filled by one batched claim rather than many small ones. Default 5ms.
	FetchCooldown time.Duration
	// ScheduleInterval is how often the maintenance leader moves delayed jobs that are due (and
	// retries whose backoff has passed) to waiting, and fires due repeatables. Default 1s.
	ScheduleInterval time.Duration
	// Retention controls how long finished jobs are kept, in every queue of the store: it is
	// applied by whichever worker is the store's maintenance leader, so give every worker of a
	// store the same Retention. Nil means DefaultRetention; &Retention{} keeps everything.
	Retention *Retention
	// MaxResultBytes limits the JSON size of a result or progress report. Default
	// DefaultMaxPayloadBytes (1 MiB); -1 removes the limit.
	MaxResultBytes int

	// Logger receives the worker's logs. Default slog.Default().
	Logger *slog.Logger
	// WorkerID names the worker in the store and the dashboard. Default "<hostname>-<pid>-<random>".
	WorkerID string
	// OnEvent, when set, is called synchronously for every WorkerEvent. It must be fast and must
	// not block; it is meant for tests, benchmarks and metrics.
	OnEvent func(WorkerEvent)
}

// Retention limits the finished jobs kept in the store. For each state a job older than MaxAge,
// or beyond the newest MaxCount, is deleted; a zero limit does not apply.
type Retention struct {
	Completed RetentionPolicy
	Failed    RetentionPolicy
	Cancelled RetentionPolicy
	// Interval is how often the maintenance leader cleans the store's queues. Default 1m.
	Interval time.Duration
}

// RetentionPolicy limits the finished jobs of one state kept per queue.
type RetentionPolicy struct {
	MaxAge   time.Duration
	MaxCount int
}

// DefaultRetention is the retention of a WorkerConfig without one: completed jobs are kept for a
// day, failed and cancelled jobs for a week, cleaned every minute.
func DefaultRetention() Retention {
	return Retention{
		Completed: RetentionPolicy{MaxAge: 24 * time.Hour},
		Failed:    RetentionPolicy{MaxAge: 7 * 24 * time.Hour},
		Cancelled: RetentionPolicy{MaxAge: 7 * 24 * time.Hour},
		Interval:  time.Minute,
	}
}

// The WorkerConfig defaults.
const (
	DefaultLeaseDuration    = 30 * time.Second
	DefaultShutdownTimeout  = 10 * time.Second
	DefaultPollInterval     = 250 * time.Millisecond
	DefaultFetchCooldown    = 5 * time.Millisecond
	DefaultScheduleInterval = time.Second
	// MinLeaseDuration is the shortest LeaseDuration accepted: a lease must outlast a few store
	// round trips and a heartbeat at a third of it.
	MinLeaseDuration = 100 * time.Millisecond
)

// withDefaults validates c and returns it with every default filled in. Errors name the field.
func (c WorkerConfig) withDefaults() (WorkerConfig, error) {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("invalid WorkerConfig.%s: %s: %w", field, fmt.Sprintf(format, args...), asyncmqtype.ErrInvalid)
	}
	if len(c.Queues) == 0 {
		return c, bad("Queues", "no queue given; map at least one queue name to its concurrency")
	}
	for _, q := range slices.Sorted(maps.Keys(c.Queues)) {
		if err := validateName("queue name", q); err != nil {
			return c, bad("Queues", "%v", err)
		}
		if n := c.Queues[q]; n < 1 {
			return c, bad("Queues", "queue %q has concurrency %d; want at least 1", q, n)
		}
	}
	c.Queues = maps.Clone(c.Queues)
	// A duration below its minimum is a unit mistake (LeaseDuration: 2 meant as seconds is 2ns),
	// which would otherwise surface later as a misleading timeout or a busy loop on the store.
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
		min  time.Duration
	}{
		{"LeaseDuration", &c.LeaseDuration, DefaultLeaseDuration, MinLeaseDuration},
		{"ShutdownTimeout", &c.ShutdownTimeout, DefaultShutdownTimeout, 0},
		{"PollInterval", &c.PollInterval, DefaultPollInterval, time.Millisecond},
		{"FetchCooldown", &c.FetchCooldown, DefaultFetchCooldown, 0},
		{"ScheduleInterval", &c.ScheduleInterval, DefaultScheduleInterval, time.Millisecond},
		{"HeartbeatInterval", &c.HeartbeatInterval, 0, 10 * time.Millisecond},
		{"StalledInterval", &c.StalledInterval, 0, 10 * time.Millisecond},
	}
	for _, f := range durations {
		if *f.d < 0 {
			return c, bad(f.name, "%s is negative", *f.d)
		}
		if *f.d > 0 && *f.d < f.min {
			return c, bad(f.name, "%s is shorter than the minimum %s (is the unit missing?)", *f.d, f.min)
		}
		if *f.d == 0 {
			*f.d = f.def
		}
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = c.LeaseDuration / 3
	}
	if c.StalledInterval == 0 {
		c.StalledInterval = c.LeaseDuration / 2
	}
	if c.HeartbeatInterval >= c.LeaseDuration {
		return c, bad("HeartbeatInterval", "%s is not shorter than LeaseDuration %s, so leases would expire between heartbeats", c.HeartbeatInterval, c.LeaseDuration)
	}
	switch {
	case c.MaxStalls < -1:
		return c, bad("MaxStalls", "%d; want -1 (fail at the first stall) or more", c.MaxStalls)
	case c.MaxStalls == 0:
		c.MaxStalls = 1
	case c.MaxStalls == -1:
		c.MaxStalls = 0
	}
	if c.Retention == nil {
		r := DefaultRetention()
		c.Retention = &r
	} else {
		r := *c.Retention
		for _, p := range []struct {
			name string
			p    RetentionPolicy
		}{{"Completed", r.Completed}, {"Failed", r.Failed}, {"Cancelled", r.Cancelled}} {
			if p.p.MaxAge < 0 || p.p.MaxCount < 0 {
				return c, bad("Retention."+p.name, "max age %s and max count %d must not be negative", p.p.MaxAge, p.p.MaxCount)
			}
		}
		if r.Interval < 0 {
			return c, bad("Retention.Interval", "%s is negative", r.Interval)
		}
		if r.Interval > 0 && r.Interval < 10*time.Millisecond {
			return c, bad("Retention.Interval", "%s is shorter than the minimum 10ms (is the unit missing?)", r.Interval)
		}
		if r.Interval == 0 {
			r.Interval = time.Minute
		}
		c.Retention = &r
	}
	switch {
	case c.MaxResultBytes < -1:
		return c, bad("MaxResultBytes", "%d; want -1 (no limit) or more", c.MaxResultBytes)
	case c.MaxResultBytes == 0:
		c.MaxResultBytes = DefaultMaxPayloadBytes
	}
	if c.WorkerID != "" {
		if err := validateName("worker ID", c.WorkerID); err != nil {
			return c, bad("WorkerID", "%v", err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// pruneWorkersAfter is how long after its last heartbeat a worker's record is deleted: long
// enough that a worker stalled by a slow store or a pause is never pruned while alive.
func (c WorkerConfig) pruneWorkersAfter() time.Duration {
	return max(10*c.HeartbeatInterval, 3*c.LeaseDuration, time.Minute)
}
