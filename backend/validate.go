package backend

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// The Validate methods are the input rules every store applies, written once. A store calls the
// one for its method before it touches anything, and returns its error as is: it wraps
// asyncmqtype.ErrInvalid and says what was being done. The conformance suite checks that each
// store refuses what they refuse.

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, asyncmqtype.ErrInvalid)...)
}

// validJSON reports whether raw is empty or one JSON value.
func validJSON(raw json.RawMessage) bool {
	return len(raw) == 0 || json.Valid(raw)
}

// Validate checks the jobs of an enqueue: no nil job, an ID, a valid queue name, a task, no
// negative MaxRetries, a JSON payload, a Priority in asyncmqtype.MinPriority..MaxPriority, times
// within asyncmqtype.MinTime..MaxTime, a known OnParentFailure policy, headers within
// ValidateHeaders' limits, and dependencies that
// neither name the job itself nor form a cycle within the call. Whether parents exist, IDs are
// free and unique keys are live is the store's to check.
func (p EnqueueParams) Validate() error {
	if p.Fresh != nil && (len(p.Fresh) != len(p.Jobs) || p.FreshIDs) {
		return invalid("enqueue %d jobs: Fresh has %d entries (FreshIDs %v); want one per job, and FreshIDs false", len(p.Jobs), len(p.Fresh), p.FreshIDs)
	}
	for i, j := range p.Jobs {
		if err := validateJob(j, i); err != nil {
			return err
		}
	}
	if id := dependencyCycle(p.Jobs); id != "" {
		return invalid("enqueue job %q: its dependencies form a cycle", id)
	}
	return nil
}

func validateJob(j *asyncmqtype.JobInfo, i int) error {
	switch {
	case j == nil:
		return invalid("enqueue job #%d: nil job", i)
	case j.ID == "":
		return invalid("enqueue job #%d: empty ID", i)
	case j.Task == "":
		return invalid("enqueue job %q: empty task", j.ID)
	case j.MaxRetries < 0:
		return invalid("enqueue job %q: negative max retries %d", j.ID, j.MaxRetries)
	case !validJSON(j.Payload):
		return invalid("enqueue job %q: payload is not JSON", j.ID)
	}
	if err := asyncmqtype.ValidateParentFailure(j.OnParentFailure); err != nil {
		return fmt.Errorf("enqueue job %q: %w", j.ID, err)
	}
	if err := ValidateHeaders(j.Headers); err != nil {
		return fmt.Errorf("enqueue job %q: %w", j.ID, err)
	}
	if err := asyncmqtype.ValidateQueueName(j.Queue); err != nil {
		return fmt.Errorf("enqueue job %q: %w", j.ID, err)
	}
	if err := asyncmqtype.ValidatePriority(j.Priority); err != nil {
		return fmt.Errorf("enqueue job %q: %w", j.ID, err)
	}
	for _, t := range []struct {
		what string
		t    time.Time
	}{{"run at", j.RunAt}, {"created at", j.CreatedAt}, {"unique until", j.UniqueUntil}} {
		if err := asyncmqtype.ValidateTime(t.what, t.t); err != nil {
			return fmt.Errorf("enqueue job %q: %w", j.ID, err)
		}
	}
	for _, pid := range j.DependsOn {
		if pid == j.ID {
			return invalid("enqueue job %q: it depends on itself", j.ID)
		}
	}
	return nil
}

// Limits of a job's headers, so every store can keep them in one small text column or hash field.
const (
	// MaxHeaders is the most headers one job may carry.
	MaxHeaders = 32
	// MaxHeaderKey is the longest header name, in bytes.
	MaxHeaderKey = 128
	// MaxHeaderValue is the longest header value, in bytes.
	MaxHeaderValue = 8192
	// MaxHeadersSize is the most bytes of names and values one job's headers may hold in total.
	MaxHeadersSize = 16 << 10
)

// ValidateHeaders checks a job's headers: at most MaxHeaders; each name 1..MaxHeaderKey bytes
// of ASCII letters, digits, '-', '_' and '.'; each value at most MaxHeaderValue bytes of valid
// UTF-8 without control characters; names and values together at most MaxHeadersSize bytes. Its
// error wraps asyncmqtype.ErrInvalid and names the offending header. Nil or empty headers are
// valid.
func ValidateHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return invalid("%d headers, more than the %d allowed", len(h), MaxHeaders)
	}
	total := 0
	for k, v := range h {
		if err := validateHeader(k, v); err != nil {
			return err
		}
		total += len(k) + len(v)
	}
	if total > MaxHeadersSize {
		return invalid("headers hold %d bytes, more than the %d allowed", total, MaxHeadersSize)
	}
	return nil
}

func validateHeader(k, v string) error {
	switch {
	case k == "":
		return invalid("header with an empty name")
	case len(k) > MaxHeaderKey:
		return invalid("header %.32q...: name longer than %d bytes", k, MaxHeaderKey)
	}
	for i := 0; i < len(k); i++ {
		if !headerNameByte(k[i]) {
			return invalid("header %q: name has %q; only letters, digits, '-', '_' and '.' are allowed", k, k[i])
		}
	}
	if len(v) > MaxHeaderValue {
		return invalid("header %q: value of %d bytes, longer than %d", k, len(v), MaxHeaderValue)
	}
	if !utf8.ValidString(v) {
		return invalid("header %q: value is not valid UTF-8", k)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid("header %q: value has control character %U", k, r)
		}
	}
	return nil
}

func headerNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// dependencyCycle returns the ID of a job of jobs whose parents, followed within jobs, lead back
// to it, or "". Parents outside the call are stored already and cannot depend on a job that does
// not exist yet, so a cycle can only form within one call.
func dependencyCycle(jobs []*asyncmqtype.JobInfo) string {
	// Most calls name no parent at all: then there is no cycle, and no need for the maps below.
	if !slices.ContainsFunc(jobs, func(j *asyncmqtype.JobInfo) bool { return len(j.DependsOn) > 0 }) {
		return ""
	}
	const (
		unseen = iota
		visiting
		done
	)
	batch := make(map[string]*asyncmqtype.JobInfo, len(jobs))
	for _, j := range jobs {
		batch[j.ID] = j
	}
	mark := make(map[string]int, len(jobs))
	var visit func(j *asyncmqtype.JobInfo) bool
	visit = func(j *asyncmqtype.JobInfo) bool {
		switch mark[j.ID] {
		case visiting:
			return true
		case done:
			return false
		}
		mark[j.ID] = visiting
		for _, pid := range j.DependsOn {
			if p := batch[pid]; p != nil && visit(p) {
				return true
			}
		}
		mark[j.ID] = done
		return false
	}
	for _, j := range jobs {
		if visit(j) {
			return j.ID
		}
	}
	return ""
}

// Validate checks a claim: a queue, a Limit of at least 1 and a positive LeaseDuration.
func (p ClaimParams) Validate() error {
	switch {
	case p.Queue == "":
		return invalid("claim jobs: no queue")
	case p.Limit < 1:
		return invalid("claim jobs of queue %q: limit %d is below 1", p.Queue, p.Limit)
	case p.LeaseDuration <= 0:
		return invalid("claim jobs of queue %q: lease duration %s is not positive", p.Queue, p.LeaseDuration)
	}
	return nil
}

// Validate checks one outcome: a known Outcome, a JSON Result and no negative RetryDelay. A store
// reports its error in that outcome's entry, not for the whole call.
func (f Finish) Validate() error {
	switch f.Outcome {
	case asyncmqtype.OutcomeCompleted, asyncmqtype.OutcomeRetry, asyncmqtype.OutcomeFailed, asyncmqtype.OutcomeCancelled:
	default:
		return invalid("finish job %q: unknown outcome %q", f.JobID, f.Outcome)
	}
	if !validJSON(f.Result) {
		return invalid("finish job %q: result is not JSON", f.JobID)
	}
	if f.RetryDelay < 0 {
		return invalid("finish job %q: negative retry delay %s", f.JobID, f.RetryDelay)
	}
	return nil
}

// Validate checks a heartbeat: a worker ID, and a positive LeaseDuration when leases are given.
func (p HeartbeatParams) Validate() error {
	if p.Worker.ID == "" {
		return invalid("heartbeat: empty worker ID")
	}
	if len(p.Leases) > 0 && p.LeaseDuration <= 0 {
		return invalid("heartbeat of worker %q: lease duration %s is not positive", p.Worker.ID, p.LeaseDuration)
	}
	return nil
}

// Validate checks a progress report: JSON.
func (p ProgressParams) Validate() error {
	if !validJSON(p.Progress) {
		return invalid("set progress of job %q: progress is not JSON", p.Lease.JobID)
	}
	return nil
}

// Validate checks a promotion: no negative Limit.
func (p PromoteParams) Validate() error {
	if p.Limit < 0 {
		return invalid("promote due jobs: negative limit %d", p.Limit)
	}
	return nil
}

// Validate checks a stalled-job recovery: no negative MaxStalls or Limit.
func (p RecoverParams) Validate() error {
	if p.MaxStalls < 0 || p.Limit < 0 {
		return invalid("recover stalled jobs: negative max stalls %d or limit %d", p.MaxStalls, p.Limit)
	}
	return nil
}

// Validate checks a rate limit: a valid queue name, no negative Limit, and a positive Interval
// with a positive Limit.
func (p RateLimitParams) Validate() error {
	if err := asyncmqtype.ValidateQueueName(p.Queue); err != nil {
		return fmt.Errorf("set rate limit: %w", err)
	}
	if p.Limit < 0 || (p.Limit > 0 && p.Interval <= 0) {
		return invalid("set rate limit of queue %q: %d per %s", p.Queue, p.Limit, p.Interval)
	}
	return nil
}

// ValidatePause checks the queue name of SetQueuePaused.
func ValidatePause(queue string) error {
	if err := asyncmqtype.ValidateQueueName(queue); err != nil {
		return fmt.Errorf("pause queue: %w", err)
	}
	return nil
}

// Validate checks a clean: a terminal State and no negative Limit or Keep.
func (p CleanParams) Validate() error {
	switch {
	case !p.State.Terminal():
		return invalid("clean queue %q: state %q is not completed, failed or cancelled", p.Queue, p.State)
	case p.Limit < 0 || p.Keep < 0:
		return invalid("clean queue %q: negative limit %d or keep %d", p.Queue, p.Limit, p.Keep)
	}
	return nil
}

// ValidateRepeatable checks a definition before UpsertRepeatable: an ID, a valid queue name, a
// task, a cron expression or a positive interval, no negative MaxRetries and a JSON payload.
// Whether the cron expression parses is the root package's to check: stores keep it as text.
func ValidateRepeatable(r asyncmqtype.Repeatable) error {
	switch {
	case r.ID == "":
		return invalid("upsert repeatable: empty ID")
	case r.Task == "":
		return invalid("upsert repeatable %q: empty queue or task", r.ID)
	case r.Interval < 0 || (r.Cron == "" && r.Interval == 0):
		return invalid("upsert repeatable %q: neither a cron expression nor a positive interval", r.ID)
	case r.MaxRetries < 0:
		return invalid("upsert repeatable %q: negative max retries %d", r.ID, r.MaxRetries)
	case !validJSON(r.Payload):
		return invalid("upsert repeatable %q: payload is not JSON", r.ID)
	}
	if err := asyncmqtype.ValidateQueueName(r.Queue); err != nil {
		return fmt.Errorf("upsert repeatable %q: empty queue or task: %w", r.ID, err)
	}
	if err := asyncmqtype.ValidatePriority(r.Priority); err != nil {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, err)
	}
	if err := asyncmqtype.ValidateTime("next run", r.NextRun); err != nil {
		return fmt.Errorf("upsert repeatable %q: %w", r.ID, err)
	}
	return nil
}

// Validate checks a firing: a job, valid as an enqueued one.
func (p FireParams) Validate() error {
	if p.Job == nil {
		return invalid("fire repeatable %q: nil job", p.ID)
	}
	if err := validateJob(p.Job, 0); err != nil {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	if err := asyncmqtype.ValidateTime("next run", p.Next); err != nil {
		return fmt.Errorf("fire repeatable %q: %w", p.ID, err)
	}
	return nil
}

// ValidateAudit checks an entry before AppendAudit: an action and a status of success, failed or
// denied.
func ValidateAudit(e asyncmqtype.AuditEntry) error {
	switch {
	case e.Action == "":
		return invalid("append audit entry: empty action")
	case e.Status != "success" && e.Status != "failed" && e.Status != "denied":
		return invalid("append audit entry %q: status %q is not success, failed or denied", e.Action, e.Status)
	}
	return nil
}

// Validate checks a resignation: a name and a holder.
func (p ResignParams) Validate() error {
	if p.Name == "" || p.Holder == "" {
		return invalid("resign leadership: empty name %q or holder %q", p.Name, p.Holder)
	}
	return nil
}

// Validate checks a pruning: a Before time, so a zero value never reads as "prune nothing" by
// accident in one store and "prune everything" in another.
func (p PruneWorkersParams) Validate() error {
	if p.Before.IsZero() {
		return invalid("prune workers: no Before time")
	}
	return nil
}

// Validate checks an election: a name, a holder and a positive TTL.
func (p ElectParams) Validate() error {
	switch {
	case p.Name == "" || p.Holder == "":
		return invalid("elect leader: empty name %q or holder %q", p.Name, p.Holder)
	case p.TTL <= 0:
		return invalid("elect leader of %q: TTL %s is not positive", p.Name, p.TTL)
	}
	return nil
}

// ParentFailureMessage is the error a store records on a job that its OnParentFailure policy
// fails because parent ended in state (failed or cancelled), so every store words it the same.
func ParentFailureMessage(parent string, state asyncmqtype.State) string {
	if state == asyncmqtype.StateCancelled {
		return fmt.Sprintf("parent job %q was cancelled", parent)
	}
	return fmt.Sprintf("parent job %q failed", parent)
}
