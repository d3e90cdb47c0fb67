package asyncmq

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/robfig/cron/v3"
)

// MinRepeatInterval is the shortest interval, and the shortest @every, a repeatable may have.
const MinRepeatInterval = time.Second

// RepeatableSpec describes a schedule that enqueues a job of Task on Queue every Interval or at
// the times of a Cron expression. Exactly one of Cron and Interval must be set.
type RepeatableSpec struct {
	// ID identifies the definition; creating a spec with an existing ID replaces that definition.
	// Empty derives a stable ID from Queue, Task and the schedule, so the same spec created twice
	// (by every replica of an application at start-up) is one definition.
	ID string
	// Queue receives the jobs. Default DefaultQueue.
	Queue string
	// Task is the task name of the jobs. Required.
	Task string
	// Payload is the payload of every job, encoded as for Client.Enqueue.
	Payload any
	// Cron is a standard five-field cron expression ("*/5 * * * *") or a descriptor ("@hourly",
	// "@every 90s"). It is evaluated in UTC unless it starts with CRON_TZ=<zone>.
	Cron string
	// Interval repeats the job every Interval (at least MinRepeatInterval), starting one Interval
	// after creation.
	Interval time.Duration
	// Priority of the jobs; nil means DefaultPriority.
	Priority *int
	// MaxRetries of the jobs; nil means DefaultMaxRetries.
	MaxRetries *int
	// Paused creates the definition paused.
	Paused bool
}

// ValidateCron reports whether expr is a cron expression a repeatable accepts, with an error
// naming the expression and the problem. It accepts the standard five fields (minute hour
// day-of-month month day-of-week), the descriptors @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly and "@every <duration>" (at least 1s), and an optional CRON_TZ=<zone> prefix.
func ValidateCron(expr string) error {
	_, err := parseCron(expr)
	return err
}

// parseCron parses a cron expression, in UTC unless it names a zone.
func parseCron(expr string) (s cron.Schedule, err error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("invalid cron expression %q: %s: %w", expr, fmt.Sprintf(format, args...), asyncmqtype.ErrInvalid)
	}
	spec := strings.TrimSpace(expr)
	switch {
	case spec == "":
		return nil, invalid("empty")
	case len(spec) > 256:
		return nil, invalid("longer than 256 bytes")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// robfig/cron slices up to the first space and panics without one.
		if !strings.Contains(spec, " ") {
			return nil, invalid("a time zone prefix must be followed by a schedule")
		}
	} else {
		// robfig/cron defaults to the process's local zone; a schedule shared by workers in
		// several zones must mean the same instants everywhere.
		spec = "CRON_TZ=UTC " + spec
	}
	if _, rest, _ := strings.Cut(spec, " "); strings.HasPrefix(strings.TrimSpace(rest), "@every") {
		d, perr := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "@every")))
		if perr != nil {
			return nil, invalid("@every needs a duration such as 90s or 5m")
		}
		if d < MinRepeatInterval {
			return nil, invalid("@every %s is shorter than %s", d, MinRepeatInterval)
		}
	}
	defer func() {
		// A malformed expression must never take a worker or a dashboard down.
		if r := recover(); r != nil {
			s, err = nil, invalid("%v", r)
		}
	}()
	s, perr := cron.ParseStandard(spec)
	if perr != nil {
		return nil, invalid("%v", perr)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, invalid("it never fires")
	}
	return s, nil
}

// nextRun returns the first run of a repeatable strictly after now. An interval schedule keeps
// its phase: runs fall at NextRun plus whole intervals, so firing a little late does not push
// every later run back.
func nextRun(r asyncmqtype.Repeatable, now time.Time) (time.Time, error) {
	if r.Cron != "" {
		s, err := parseCron(r.Cron)
		if err != nil {
			return time.Time{}, err
		}
		next := s.Next(now)
		if next.IsZero() {
			return time.Time{}, fmt.Errorf("cron expression %q has no run after %s: %w", r.Cron, now.Format(time.RFC3339), asyncmqtype.ErrInvalid)
		}
		return next.UTC(), nil
	}
	if r.Interval < MinRepeatInterval {
		return time.Time{}, fmt.Errorf("interval %s is shorter than %s: %w", r.Interval, MinRepeatInterval, asyncmqtype.ErrInvalid)
	}
	if r.NextRun.IsZero() || r.NextRun.After(now) {
		return now.Add(r.Interval), nil
	}
	missed := now.Sub(r.NextRun) / r.Interval
	return r.NextRun.Add((missed + 1) * r.Interval), nil
}

// repeatableID derives the stable ID of a spec without one. A hash keeps the ID short and free of
// the characters a cron expression contains.
func repeatableID(queue, task, cronExpr string, interval time.Duration) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d", queue, task, cronExpr, interval)
	return "rep-" + hex.EncodeToString(h.Sum(nil)[:10])
}

// build validates the spec and returns the definition to store, with NextRun after now.
func (s RepeatableSpec) build(now time.Time) (asyncmqtype.Repeatable, error) {
	r := asyncmqtype.Repeatable{
		ID:         s.ID,
		Queue:      s.Queue,
		Task:       s.Task,
		Cron:       strings.TrimSpace(s.Cron),
		Interval:   s.Interval,
		Priority:   DefaultPriority,
		MaxRetries: DefaultMaxRetries,
		Paused:     s.Paused,
		CreatedAt:  now,
	}
	if r.Queue == "" {
		r.Queue = DefaultQueue
	}
	if err := validateName("queue name", r.Queue); err != nil {
		return r, err
	}
	if err := validateName("task name", r.Task); err != nil {
		return r, err
	}
	switch {
	case r.Cron != "" && r.Interval != 0:
		return r, fmt.Errorf("both cron %q and interval %s are set; want exactly one: %w", r.Cron, r.Interval, asyncmqtype.ErrInvalid)
	case r.Cron == "" && r.Interval == 0:
		return r, fmt.Errorf("neither cron nor interval is set; want exactly one: %w", asyncmqtype.ErrInvalid)
	}
	// nextRun validates the cron expression or the interval as it computes the first run.
	var err error
	if r.NextRun, err = nextRun(r, now); err != nil {
		return r, err
	}
	if s.Priority != nil {
		r.Priority = *s.Priority
	}
	if s.MaxRetries != nil {
		if *s.MaxRetries < 0 {
			return r, fmt.Errorf("max retries %d: must not be negative: %w", *s.MaxRetries, asyncmqtype.ErrInvalid)
		}
		r.MaxRetries = *s.MaxRetries
	}
	payload, err := encodePayload(s.Payload, DefaultMaxPayloadBytes)
	if err != nil {
		return r, err
	}
	r.Payload = payload
	if r.ID == "" {
		r.ID = repeatableID(r.Queue, r.Task, r.Cron, r.Interval)
	} else if err := validateName("repeatable ID", r.ID); err != nil {
		return r, err
	}
	return r, nil
}

// repeatableJob is the job a firing of r enqueues. Its RunAt and CreatedAt are left to the store's
// clock.
func repeatableJob(r asyncmqtype.Repeatable) *asyncmqtype.JobInfo {
	return &asyncmqtype.JobInfo{
		ID:           NewID(),
		Queue:        r.Queue,
		Task:         r.Task,
		Payload:      r.Payload,
		State:        asyncmqtype.StateWaiting,
		Priority:     r.Priority,
		MaxRetries:   r.MaxRetries,
		RepeatableID: r.ID,
	}
}
