package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Finish records outcomes with one script call per queue, all in one pipeline.
func (s *Store) Finish(ctx context.Context, p backend.FinishParams) ([]error, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	errs := make([]error, len(p.Items))
	type group struct {
		idx  []int
		args []any
	}
	groups := map[string]*group{}
	var order []string
	for i, f := range p.Items {
		if err := f.Validate(); err != nil {
			errs[i] = err
			continue
		}
		q, ok := queueOfToken(f.LeaseToken)
		if !ok {
			errs[i] = fmt.Errorf("finish job %q: %w", f.JobID, asyncmqtype.ErrLeaseLost)
			continue
		}
		g := groups[q]
		if g == nil {
			g = &group{}
			groups[q] = g
			order = append(order, q)
		}
		g.idx = append(g.idx, i)
		g.args = appendFinishArgs(g.args, f)
	}
	if len(order) == 0 {
		return errs, nil
	}
	calls := make([]call, len(order))
	for i, q := range order {
		calls[i] = s.queueCall(scriptFinish, q, p.Now, nil, groups[q].args...)
	}
	var results []result
	if len(calls) == 1 {
		v, err := s.eval(ctx, calls[0])
		results = []result{{v, err}}
	} else {
		results = s.evalMany(ctx, calls)
	}
	for gi, q := range order {
		g := groups[q]
		if results[gi].err != nil {
			return nil, fmt.Errorf("finish %d jobs of queue %q: %w", len(g.idx), q, results[gi].err)
		}
		st := strs(results[gi].val)
		for k, i := range g.idx {
			if k >= len(st) || st[k] != "ok" {
				errs[i] = fmt.Errorf("finish job %q: %w", p.Items[i].JobID, asyncmqtype.ErrLeaseLost)
			}
		}
	}
	return errs, nil
}

// appendFinishArgs appends finish_jobs's arguments for f (finish_jobs.lua): 5 for a job
// completed without a result, the usual outcome, 10 for any other.
func appendFinishArgs(args []any, f backend.Finish) []any {
	dur, bucket := strconv.FormatInt(int64(f.Duration), 10), "d"+strconv.Itoa(asyncmqtype.DurationBucket(f.Duration))
	if f.Outcome == asyncmqtype.OutcomeCompleted && len(f.Result) == 0 {
		return append(args, f.JobID, f.LeaseToken, "c", dur, bucket)
	}
	tail, at, msg := "", "0", ""
	if f.Error != nil && f.Outcome != asyncmqtype.OutcomeCompleted {
		tail, at, msg = errorTail(f.Error), micros(f.Error.At), f.Error.Error
	}
	retryDelay := "0"
	if f.Outcome == asyncmqtype.OutcomeRetry {
		retryDelay = strconv.FormatInt(f.RetryDelay.Microseconds(), 10)
	}
	return append(args, f.JobID, f.LeaseToken, string(f.Outcome), string(f.Result), tail, at, msg, retryDelay, dur, bucket)
}
