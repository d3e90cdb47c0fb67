package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	goredis "github.com/redis/go-redis/v9"
)

// GetJob returns one job by ID: one lookup of its queue, one read of its hash.
func (s *Store) GetJob(ctx context.Context, id string) (*asyncmqtype.JobInfo, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	q, err := s.rdb.HGet(ctx, s.jobqKey(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	f, err := s.rdb.HGetAll(ctx, s.queueKeys(q).job(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", id, err)
	}
	if len(f) == 0 || f["st"] == "" {
		return nil, fmt.Errorf("get job %q: %w", id, asyncmqtype.ErrJobNotFound)
	}
	return decodeJob(id, q, maps.All(f))
}

// readJobs reads the hashes of ids of one queue in one pipeline, in order; vanished jobs are
// left out.
func (s *Store) readJobs(ctx context.Context, queue string, ids []string) ([]*asyncmqtype.JobInfo, error) {
	k := s.queueKeys(queue)
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, k.job(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %d jobs of queue %q: %w", len(ids), queue, err)
	}
	out := make([]*asyncmqtype.JobInfo, 0, len(ids))
	for i, c := range cmds {
		f := c.Val()
		if f["st"] == "" {
			continue
		}
		j, err := decodeJob(ids[i], queue, maps.All(f))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
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
	if f.Task == "" && f.ID == "" && f.Text == "" {
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
	var matched []string
	err := s.scan(ctx, f, set, rev, ListScanLimit, func(id string) {
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

// scan calls match for every job of set (in order) that passes the filter's Task, ID and Text,
// examining at most limit jobs (0 = all).
func (s *Store) scan(ctx context.Context, f asyncmqtype.JobFilter, set string, rev bool, limit int, match func(id string)) error {
	k := s.queueKeys(f.Queue)
	task, text := strings.ToLower(f.Task), strings.ToLower(f.Text)
	for start := 0; limit == 0 || start < limit; start += scanChunk {
		ids, err := func() ([]string, error) {
			var c *goredis.StringSliceCmd
			_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
				c = rangeIDs(ctx, pl, set, int64(start), int64(start+scanChunk-1), rev)
				return nil
			})
			return c.Val(), err
		}()
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
			cmds := make([]*goredis.SliceCmd, len(cands))
			_, err := s.rdb.Pipelined(ctx, func(pl goredis.Pipeliner) error {
				for i, id := range cands {
					cmds[i] = pl.HMGet(ctx, k.job(id), "t", "p")
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("scan jobs of queue %q: %w", f.Queue, err)
			}
			kept := cands[:0]
			for i, id := range cands {
				v := cmds[i].Val()
				t, _ := v[0].(string)
				pl, _ := v[1].(string)
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
		g, o, err := s.queuesOf(ctx, p.IDs)
		if err != nil {
			return 0, err
		}
		for _, q := range o {
			if p.Filter.Queue == "" || p.Filter.Queue == q {
				groups[q] = g[q]
				order = append(order, q)
			}
		}
	} else {
		states := asyncmqtype.States
		if p.Filter.State != "" {
			states = []asyncmqtype.State{p.Filter.State}
		}
		k := s.queueKeys(p.Filter.Queue)
		var ids []string
		for _, st := range states {
			err := s.scan(ctx, p.Filter, k.state(st.Index()), false, 0, func(id string) { ids = append(ids, id) })
			if err != nil {
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
