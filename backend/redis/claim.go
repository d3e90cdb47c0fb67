package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// claimLookahead is how many ready members past the limit a claim examines for jobs whose
// run-at is still ahead (a job enqueued by a process with a fast clock): such jobs are skipped,
// and more than this many of them at the head of a queue delay the claim of the ones behind.
const claimLookahead = 32

// claimLanes is the number of fetchers a worker runs per queue (backend.ClaimLaner). A claim of
// 50 jobs costs Redis about a third of the time the worker waits for its reply, so at a
// concurrency of 50 one claim in flight left the slots idle for most of each round trip; two
// lanes, each claiming for half the slots, processed about 17% more jobs per second (28.9k to
// 34.0k, `asyncmq bench --concurrency 50`). More lanes made it worse: smaller claims cost Redis
// more per job.
const claimLanes = 2

// ClaimLanes returns the number of fetchers a worker runs per queue; see backend.ClaimLaner.
func (s *Store) ClaimLanes() int { return claimLanes }

// Lease tokens are 16 random hex digits (new for each claim), ":", the queue's name, "/" and the
// job's ID, so calls that carry a token (Finish, Heartbeat, Release, SetProgress) find the job's
// queue without a lookup; queue names hold no "/". Tokens of earlier versions, still held by jobs
// they started, have a counter where the ":" is and end with the queue's name.
func tokenPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func leaseToken(prefix, queue, id string) string { return prefix + ":" + queue + "/" + id }

func queueOfToken(token string) (string, bool) {
	if len(token) < 18 {
		return "", false
	}
	counter, q, ok := strings.Cut(token[16:], ":")
	if ok && counter == "" {
		q, _, ok = strings.Cut(q, "/")
	}
	return q, ok && q != ""
}

// Claim takes up to Limit runnable jobs of one queue in one script call.
func (s *Store) Claim(ctx context.Context, p backend.ClaimParams) ([]*asyncmqtype.JobInfo, error) {
	if err := s.guard(ctx); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	prefix := tokenPrefix()
	c := s.queueCall(scriptClaim, p.Queue, p.Now, nil,
		p.Limit, p.LeaseDuration.Microseconds(), p.WorkerID, prefix, claimLookahead)
	v, err := s.eval(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("claim from queue %q: %w", p.Queue, err)
	}
	jobs, bad, err := claimedJobs(p, prefix, v)
	if len(bad) > 0 {
		s.failUnreadable(ctx, p.Queue, prefix, bad)
	}
	return jobs, err
}

// unreadable is a job a claim took whose stored fields cannot be decoded.
type unreadable struct {
	id  string
	err error
}

// failUnreadable fails the jobs a claim took but could not decode, rather than leave them active
// under a lease no worker holds until it expires, then claimed and lost again.
func (s *Store) failUnreadable(ctx context.Context, queue, prefix string, bad []unreadable) {
	items := make([]backend.Finish, len(bad))
	for i, b := range bad {
		s.log.Error("asyncmq redis: a claimed job cannot be read; failing it", "queue", queue, "job", b.id, "err", b.err)
		items[i] = backend.Finish{JobID: b.id, LeaseToken: leaseToken(prefix, queue, b.id), Outcome: asyncmqtype.OutcomeFailed,
			Error: &asyncmqtype.AttemptError{At: time.Now(), Error: "asyncmq: the job's stored fields cannot be read: " + b.err.Error()}}
	}
	errs, err := s.Finish(ctx, backend.FinishParams{Items: items})
	if err != nil {
		s.log.Error("asyncmq redis: fail the claimed jobs that cannot be read", "queue", queue, "err", err)
		return
	}
	for i, err := range errs {
		if err != nil {
			s.log.Error("asyncmq redis: fail a claimed job that cannot be read", "queue", queue, "job", bad[i].id, "err", err)
		}
	}
}

// claimedJobs decodes the claim script's reply: the store's Now, then each job's ID and its
// fields as they were before the claim (a list, or the packed record of a job that had only
// that), to which it applies what the claim changed. Jobs whose fields cannot be decoded are
// returned apart.
func claimedJobs(p backend.ClaimParams, prefix string, v any) ([]*asyncmqtype.JobInfo, []unreadable, error) {
	arr, _ := v.([]any)
	if len(arr) == 0 {
		return nil, nil, fmt.Errorf("claim from queue %q: unexpected reply %v", p.Queue, v)
	}
	nowStr, _ := arr[0].(string)
	now := fromMicros(nowStr)
	out := make([]*asyncmqtype.JobInfo, 0, len(arr)/2)
	var bad []unreadable
	for i := 1; i+1 < len(arr); i += 2 {
		id, _ := arr[i].(string)
		fields := pairs(arr[i+1])
		if rec, ok := arr[i+1].(string); ok {
			fields = withRecord(pairs(nil), rec)
		}
		j, err := decodeJob(id, p.Queue, fields)
		if err != nil {
			bad = append(bad, unreadable{id, err})
			continue
		}
		j.State = asyncmqtype.StateActive
		j.Attempts++
		j.LeaseToken = leaseToken(prefix, p.Queue, id)
		j.LeaseExpiresAt = now.Add(time.Duration(p.LeaseDuration.Microseconds()) * time.Microsecond)
		j.StartedAt = now
		j.WorkerID = p.WorkerID
		out = append(out, j)
	}
	return out, bad, nil
}
