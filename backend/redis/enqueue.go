package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), asyncmqtype.ErrInvalid)
}

// validateBatch applies the shared input rules and refuses an ID twice in one call.
func validateBatch(p backend.EnqueueParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(p.Jobs) == 1 {
		return nil
	}
	seen := make(map[string]bool, len(p.Jobs))
	for _, j := range p.Jobs {
		if seen[j.ID] {
			return fmt.Errorf("enqueue job %q: %w (twice in one call)", j.ID, asyncmqtype.ErrJobExists)
		}
		seen[j.ID] = true
	}
	return nil
}

// Enqueue stores jobs all-or-nothing in one script call per queue. A call whose jobs are all in
// one queue (the usual case) is one atomic script; a call spanning queues runs one script per
// queue and, if a later queue refuses its jobs, removes the jobs the earlier queues stored.
// Parents named in DependsOn must be in the child's queue: the scripts that release children
// run on one queue's keys. Once the call succeeds, each job of p.Jobs has State and PendingDeps as
// the script stored them.
func (s *Store) Enqueue(ctx context.Context, p backend.EnqueueParams) error {
	if err := s.guard(ctx); err != nil {
		return err
	}
	if len(p.Jobs) == 0 {
		return nil
	}
	if err := validateBatch(p); err != nil {
		return err
	}
	if !p.FreshIDs && !s.cluster {
		if err := s.refuseTakenSealed(ctx, p.Jobs, p.Fresh); err != nil {
			return err
		}
	}
	plain := plainEnqueue(p)
	if oneQueue(p.Jobs) {
		// The usual call, without the grouping's map and slices.
		stored, err := s.enqueueQueue(ctx, p.Jobs[0].Queue, p.Jobs, p, plain)
		if err != nil {
			return err
		}
		setStored(p.Jobs, stored)
		return nil
	}
	groups, order := groupByQueue(p.Jobs)
	var done []string
	stored := make([][]int64, len(order))
	for i, q := range order {
		var err error
		if stored[i], err = s.enqueueQueue(ctx, q, groups[q], p, plain); err != nil {
			if len(done) > 0 {
				s.undoEnqueue(context.WithoutCancel(ctx), done, groups)
			}
			return err
		}
		done = append(done, q)
	}
	// Only now that every queue took its jobs.
	for i, q := range order {
		setStored(groups[q], stored[i])
	}
	return nil
}

// setStored sets each job's State and PendingDeps to what the store stored it as.
func setStored(jobs []*asyncmqtype.JobInfo, stored []int64) {
	for k, j := range jobs {
		j.State, j.PendingDeps = storedState(stored[k])
	}
}

// errMalformed reports an enqueue script reply the store cannot read: the jobs may be stored.
var errMalformed = errors.New("malformed enqueue reply")

// groupReply reads the part of the enqueue script's flat reply at arr[i:] that answers a group
// of n jobs: 'ok', created and what each job was stored as (its pending parents when
// waiting-children, 0 when waiting, -1 when delayed), or a refusal code and the ID it names. It
// returns where the next group's part starts; refused is the refusal as a typed error.
func groupReply(arr []any, i, n int) (stored []int64, created bool, next int, refused, err error) {
	if i+1 >= len(arr) {
		return nil, false, i, nil, fmt.Errorf("%w: %d entries, want a group's at %d", errMalformed, len(arr), i)
	}
	if code, _ := arr[i].(string); code != "ok" {
		return nil, false, i + 2, enqueueReply([]any{arr[i], arr[i+1]}), nil
	}
	if i+2+n > len(arr) {
		return nil, false, i, nil, fmt.Errorf("%w: %d entries, want %d stored states at %d", errMalformed, len(arr), n, i+2)
	}
	stored = make([]int64, n)
	for k := range stored {
		x, ok := arr[i+2+k].(int64)
		if !ok {
			return nil, false, i, nil, fmt.Errorf("%w: stored state %v of job %d is not an integer", errMalformed, arr[i+2+k], k)
		}
		stored[k] = x
	}
	return stored, arr[i+1] == int64(1), i + 2 + n, nil, nil
}

// storedState turns one stored state of groupReply into a job's State and PendingDeps.
func storedState(x int64) (asyncmqtype.State, int) {
	switch {
	case x > 0:
		return asyncmqtype.StateWaitingChildren, int(x)
	case x < 0:
		return asyncmqtype.StateDelayed, 0
	}
	return asyncmqtype.StateWaiting, 0
}

// oneQueue reports whether every job is in the first job's queue.
func oneQueue(jobs []*asyncmqtype.JobInfo) bool {
	for _, j := range jobs[1:] {
		if j.Queue != jobs[0].Queue {
			return false
		}
	}
	return true
}

func groupByQueue(jobs []*asyncmqtype.JobInfo) (map[string][]*asyncmqtype.JobInfo, []string) {
	groups := make(map[string][]*asyncmqtype.JobInfo)
	var order []string
	for _, j := range jobs {
		if _, ok := groups[j.Queue]; !ok {
			order = append(order, j.Queue)
		}
		groups[j.Queue] = append(groups[j.Queue], j)
	}
	return groups, order
}

// enqueueQueue stores the jobs of one queue and returns what each was stored as (see groupReply).
func (s *Store) enqueueQueue(ctx context.Context, queue string, jobs []*asyncmqtype.JobInfo, p backend.EnqueueParams, plain bool) ([]int64, error) {
	var ids []string
	if s.cluster {
		ids = make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		if err := s.claimIDs(ctx, queue, ids); err != nil {
			return nil, err
		}
	}
	stored, err := s.combine.submit(ctx, queue, p.Now, jobs, plain)
	if err != nil {
		if s.cluster {
			s.releaseIDs(context.WithoutCancel(ctx), ids)
		}
		return nil, err
	}
	return stored, nil
}

// enqueueReply turns the enqueue and fire scripts' refusals into typed errors.
func enqueueReply(v any) error {
	arr, _ := v.([]any)
	if len(arr) == 0 {
		return fmt.Errorf("unexpected reply %v", v)
	}
	code, _ := arr[0].(string)
	id := ""
	if len(arr) > 1 {
		id, _ = arr[1].(string)
	}
	switch code {
	case "ok":
		return nil
	case "exists":
		return fmt.Errorf("job %q: %w", id, asyncmqtype.ErrJobExists)
	case "dup":
		return fmt.Errorf("job %q: %w", id, asyncmqtype.ErrDuplicateJob)
	case "noparent":
		return fmt.Errorf("parent job %q (parents must be in the child's queue): %w", id, asyncmqtype.ErrJobNotFound)
	case "nf":
		return asyncmqtype.ErrRepeatableNotFound
	case "conflict":
		return asyncmqtype.ErrConflict
	}
	return fmt.Errorf("unexpected reply %v", v)
}

func created(v any) bool {
	arr, _ := v.([]any)
	return len(arr) > 1 && arr[1] == int64(1)
}

// undoEnqueue removes the jobs of the queues an enqueue spanning queues had already stored.
func (s *Store) undoEnqueue(ctx context.Context, queues []string, groups map[string][]*asyncmqtype.JobInfo) {
	for _, q := range queues {
		ids := make([]any, 0, len(groups[q])+1)
		ids = append(ids, string(asyncmqtype.ActionRemove))
		for _, j := range groups[q] {
			ids = append(ids, j.ID)
		}
		v, err := s.eval(ctx, s.queueCall(scriptApply, q, groups[q][0].CreatedAt, nil, ids...))
		if err != nil {
			s.log.Error("asyncmq redis: undo a partly stored enqueue", "queue", q, "err", err)
			continue
		}
		s.afterDelete(ctx, v)
	}
}
