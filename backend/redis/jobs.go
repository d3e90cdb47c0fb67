package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	goredis "github.com/redis/go-redis/v9"
)

// GetJob returns one job by ID: one lookup of its queue, one read of its hash. On a single server
// an ID asyncmq made that the ID index lacks is looked up in every queue (global.go).
func (s *Store) GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	_, order, err := s.queuesOf(ctx, []string{id}, "")
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	jobs, bad, err := s.readJobsOrBad(ctx, order[0], []string{id})
	if err == nil && len(bad) > 0 {
		err = bad[0]
	}
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	return jobs[0], nil
}

// readScript reads jobs of one queue at one instant each: a job whose record and hash a script
// changes in between could otherwise be read half before and half after (a job cleaned between
// two reads would show as its record alone: waiting). KEYS[1] is the queue's packed hash; ARGV[1]
// the prefix of its job hashes, ARGV[2] 'all' for every field of each job or 'tp' for its task
// and payload, then the IDs. For each job it returns its record (empty when none), then its hash's
// fields (all) or its 't' and 'p' (tp). It writes nothing, so Redis runs it when full too, which
// it would not do for a MULTI.
var readScript = goredis.NewScript(`#!lua flags=no-writes
local recs = redis.call('HMGET', KEYS[1], unpack(ARGV, 3))
local out = {}
for i = 3, #ARGV do
  local jk = ARGV[1] .. ARGV[i]
  out[#out + 1] = recs[i - 2] or ''
  if ARGV[2] == 'all' then
    out[#out + 1] = redis.call('HGETALL', jk)
  else
    local v = redis.call('HMGET', jk, 't', 'p')
    out[#out + 1] = v[1] or ''
    out[#out + 1] = v[2] or ''
  end
end
return out
`)

// readRaw runs readScript for ids of one queue, readChunk of them a call, and returns the
// replies run together: width entries per ID (2 for mode 'all', 3 for 'tp'), nil where a reply
// was short, so that every ID's entries stay at the same place.
func (s *Store) readRaw(ctx context.Context, queue, mode string, ids []string) ([]any, error) {
	width := 2
	if mode == "tp" {
		width = 3
	}
	k := s.queueKeys(queue)
	out := make([]any, 0, width*len(ids))
	for from := 0; from < len(ids); from += readChunk {
		chunk := ids[from:min(from+readChunk, len(ids))]
		args := make([]any, 0, 2+len(chunk))
		args = append(args, k.base+"j:", mode)
		for _, id := range chunk {
			args = append(args, id)
		}
		v, err := readScript.Run(ctx, s.rdb, []string{k.packed()}, args...).Result()
		if err != nil {
			return nil, fmt.Errorf("read %d jobs of queue %q: %w", len(chunk), queue, err)
		}
		arr, _ := v.([]any)
		end := len(out) + width*len(chunk)
		out = append(out, arr[:min(len(arr), width*len(chunk))]...)
		out = append(out, make([]any, end-len(out))...)
	}
	return out, nil
}

// readChunk bounds the jobs one readScript call reads: its reply is built in Lua's memory, which
// maxmemory does not count, and Redis serves no one else while it runs.
const readChunk = 100

// readJobs reads the jobs ids of one queue, in order; vanished jobs are left out, and so are
// jobs whose stored record cannot be decoded (logged), so that one damaged job does not hide a
// whole listing.
func (s *Store) readJobs(ctx context.Context, queue string, ids []string) ([]*asyncmqtype.JobInfo, error) {
	jobs, bad, err := s.readJobsOrBad(ctx, queue, ids)
	for _, e := range bad {
		s.log.Error("asyncmq redis: a job cannot be read", "queue", queue, "err", e)
	}
	return jobs, err
}

// readJobsOrBad is readJobs, returning the decoding error of each job it left out for one.
// Each job is read whole in one script call (a job has its packed record, record.go, its hash,
// or both); see readRaw.
func (s *Store) readJobsOrBad(ctx context.Context, queue string, ids []string) ([]*asyncmqtype.JobInfo, []error, error) {
	arr, err := s.readRaw(ctx, queue, "all", ids)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*asyncmqtype.JobInfo, 0, len(ids))
	var bad []error
	for i, id := range ids {
		rec, _ := arr[2*i].(string)
		h, _ := arr[2*i+1].([]any)
		if len(h) == 0 && rec == "" {
			continue
		}
		j, err := decodeJob(id, queue, withRecord(pairs(h), rec))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		if j.State != "" {
			out = append(out, j)
		}
	}
	return out, bad, nil
}

// ListScanLimit bounds a filtered listing (Task, ID or Text set): it examines at most this many
// jobs of the state, newest or oldest first as sorted, in chunks of one pipeline each, and Total
// counts the matches among them. Unfiltered listings, counts and deep pages use the state's
// sorted set by rank and are exact at any depth.
const ListScanLimit = 50_000

const scanChunk = 500

// ListJobs returns one page of a queue's jobs in one state.
func (s *Store) ListJobs(ctx context.Context, p asyncmqtype.ListJobsParams) (asyncmqtype.JobPage, error) {
	var page asyncmqtype.JobPage
	if err := s.guard(ctx); err != nil {
		return page, err
	}
	if err := p.Validate(); err != nil {
		return page, err
	}
	f := p.Filter
	rev := p.Sort != asyncmqtype.SortOldest
	k := s.queueKeys(f.Queue)
	set := k.state(f.State.Index())
	filtered := f.Task != "" || f.ID != "" || f.Text != ""
	if !filtered && f.State == asyncmqtype.StateWaiting {
		total, ids, err := s.waitingPage(ctx, f.Queue, int64(p.Offset), int64(p.Offset+p.Limit-1), rev)
		if err != nil {
			return page, err
		}
		page.Total = total
		page.Jobs, err = s.readJobs(ctx, f.Queue, ids)
		return page, err
	}
	if !filtered && f.State != asyncmqtype.StateActive {
		var total *goredis.IntCmd
		var ids *goredis.StringSliceCmd
		_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
			total = pl.ZCard(ctx, set)
			ids = rangeIDs(ctx, pl, set, int64(p.Offset), int64(p.Offset+p.Limit-1), rev)
			return nil
		})
		if err != nil {
			return page, fmt.Errorf("list jobs of queue %q: %w", f.Queue, err)
		}
		page.Total = int(total.Val())
		page.Jobs, err = s.readJobs(ctx, f.Queue, ids.Val())
		return page, err
	}
	rng, err := s.ranked(ctx, f.Queue, f.State, rev)
	if err != nil {
		return page, err
	}
	limit := ListScanLimit
	if !filtered {
		limit = 0
	}
	var matched []string
	err = s.scan(ctx, f, rng, limit, func(id string) {
		if page.Total >= p.Offset && len(matched) < p.Limit {
			matched = append(matched, id)
		}
		page.Total++
	})
	if err != nil {
		return page, err
	}
	page.Jobs, err = s.readJobs(ctx, f.Queue, matched)
	return page, err
}

func rangeIDs(ctx context.Context, pl goredis.Pipeliner, set string, start, stop int64, rev bool) *goredis.StringSliceCmd {
	if rev {
		return pl.ZRevRange(ctx, set, start, stop)
	}
	return pl.ZRange(ctx, set, start, stop)
}

// ranked returns a reader of a queue's jobs in one state in listing order (CreatedAt, then ID;
// newest first when rev), by rank from start to stop inclusive: the state's sorted set, for
// waiting jobs joined with the lane (waitingPage), or for active jobs their IDs sorted once (see
// activeIDs).
func (s *Store) ranked(ctx context.Context, queue string, state asyncmqtype.State, rev bool) (func(start, stop int64) ([]string, error), error) {
	if state == asyncmqtype.StateActive {
		ids, err := s.activeIDs(ctx, queue, rev)
		if err != nil {
			return nil, err
		}
		return func(start, stop int64) ([]string, error) {
			return ids[min(int(start), len(ids)):min(int(stop)+1, len(ids))], nil
		}, nil
	}
	if state == asyncmqtype.StateWaiting {
		return func(start, stop int64) ([]string, error) {
			_, ids, err := s.waitingPage(ctx, queue, start, stop, rev)
			return ids, err
		}, nil
	}
	set := s.queueKeys(queue).state(state.Index())
	return func(start, stop int64) ([]string, error) {
		var c *goredis.StringSliceCmd
		_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
			c = rangeIDs(ctx, pl, set, start, stop, rev)
			return nil
		})
		return c.Val(), err
	}, nil
}

// activeIDs returns a queue's active jobs in listing order. The lease set holds them by lease
// expiry, so their created-at is read from their hashes, in one pipeline: active jobs are no
// more than the workers' slots, and a listing of them is rare next to the two sorted-set writes
// per job a set of its own would cost.
func (s *Store) activeIDs(ctx context.Context, queue string, rev bool) ([]string, error) {
	k := s.queueKeys(queue)
	ids, err := s.rdb.ZRange(ctx, k.lease(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list active jobs of queue %q: %w", queue, err)
	}
	cmds := make([]*goredis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = pl.HGet(ctx, k.job(id), "ca")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("list active jobs of queue %q: %w", queue, err)
	}
	type active struct {
		id string
		ca int64
	}
	list := make([]active, 0, len(ids))
	for i, id := range ids {
		ca, err := strconv.ParseInt(cmds[i].Val(), 10, 64)
		if err != nil {
			continue // deleted since the lease set was read
		}
		list = append(list, active{id, ca})
	}
	slices.SortFunc(list, func(a, b active) int {
		c := cmp.Compare(a.ca, b.ca)
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		if rev {
			c = -c
		}
		return c
	})
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.id
	}
	return out, nil
}

// scan calls match for every job rng reads (in order) that passes the filter's Task, ID and Text,
// examining at most limit jobs (0 = all).
func (s *Store) scan(ctx context.Context, f asyncmqtype.JobFilter, rng func(start, stop int64) ([]string, error), limit int, match func(id string)) error {
	task, text := strings.ToLower(f.Task), strings.ToLower(f.Text)
	for start := 0; limit == 0 || start < limit; start += scanChunk {
		ids, err := rng(int64(start), int64(start+scanChunk-1))
		if err != nil {
			return fmt.Errorf("scan jobs of queue %q: %w", f.Queue, err)
		}
		var cands []string
		for _, id := range ids {
			if f.ID == "" || strings.Contains(id, f.ID) {
				cands = append(cands, id)
			}
		}
		if len(cands) > 0 && (task != "" || text != "") {
			arr, err := s.readRaw(ctx, f.Queue, "tp", cands)
			if err != nil {
				return fmt.Errorf("scan jobs of queue %q: %w", f.Queue, err)
			}
			kept := cands[:0]
			for i, id := range cands {
				rec, _ := arr[3*i].(string)
				t, _ := arr[3*i+1].(string)
				pl, _ := arr[3*i+2].(string)
				if rec != "" {
					// A claimed job's hash has its task; its payload stays in its record.
					rt, rp := recordTaskPayload(rec)
					if t == "" {
						t = rt
					}
					if pl == "" {
						pl = rp
					}
				}
				if (task == "" || strings.Contains(strings.ToLower(t), task)) && (text == "" || strings.Contains(strings.ToLower(pl), text)) {
					kept = append(kept, id)
				}
			}
			cands = kept
		}
		for _, id := range cands {
			match(id)
		}
		if len(ids) < scanChunk {
			return nil
		}
	}
	return nil
}

// applyChunk bounds the jobs one apply script handles.
const applyChunk = 500

// ApplyJobs performs a bulk action on jobs named by ID or matching a filter.
func (s *Store) ApplyJobs(ctx context.Context, p asyncmqtype.ApplyParams) (int, error) {
	if err := s.guard(ctx); err != nil {
		return 0, err
	}
	if err := p.Validate(); err != nil {
		return 0, err
	}
	groups := map[string][]string{}
	var order []string
	if len(p.IDs) > 0 {
		g, o, err := s.queuesOf(ctx, p.IDs, p.Filter.Queue)
		if err != nil {
			return 0, err
		}
		groups, order = g, o
	} else {
		states := asyncmqtype.States
		if p.Filter.State != "" {
			states = []asyncmqtype.State{p.Filter.State}
		}
		var ids []string
		for _, st := range states {
			rng, err := s.ranked(ctx, p.Filter.Queue, st, false)
			if err != nil {
				return 0, err
			}
			if err := s.scan(ctx, p.Filter, rng, 0, func(id string) { ids = append(ids, id) }); err != nil {
				return 0, err
			}
		}
		groups[p.Filter.Queue] = ids
		order = []string{p.Filter.Queue}
	}
	changed := 0
	for _, q := range order {
		ids := groups[q]
		for len(ids) > 0 {
			n := min(len(ids), applyChunk)
			args := make([]any, 0, n+1)
			args = append(args, string(p.Action))
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			ids = ids[n:]
			v, err := s.eval(ctx, s.queueCall(scriptApply, q, p.Now, nil, args...))
			if err != nil {
				return changed, fmt.Errorf("apply %s to jobs of queue %q: %w", p.Action, q, err)
			}
			s.afterDelete(ctx, v)
			arr, _ := v.([]any)
			if len(arr) > 0 {
				c, _ := arr[0].(int64)
				changed += int(c)
			}
		}
	}
	return changed, nil
}
