package redis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// Job hash fields. Optional fields are absent when empty, so a waiting job without options holds
// seven short fields and its payload:
//
//	t task, p payload, st state, pr priority, mr max retries, ra run-at, ca created-at,
//	at attempts, bo backoff JSON, to timeout ns, sa started-at, fa finished-at, r result,
//	pg progress, er errors (JSON array, times in µs), w worker, lt lease token, le lease expiry,
//	sl stalls, uk/uu unique key/until, dep parents (\x1f-separated), pd pending parents,
//	cr cancel requested, rep repeatable ID, ch children (\x1f-separated), op parent-failure policy,
//	hd headers (JSON object).
const depSep = "\x1f"

// storedError is an AttemptError as the scripts append it.
type storedError struct {
	Attempt int    `json:"attempt"`
	At      int64  `json:"at"`
	Error   string `json:"error"`
	Stack   string `json:"stack,omitempty"`
	Panic   bool   `json:"panic,omitempty"`
}

// errorTail encodes the part of an attempt error the client knows; the script adds the attempt
// number and time.
func errorTail(e *asyncmqtype.AttemptError) string {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
		Stack string `json:"stack,omitempty"`
		Panic bool   `json:"panic,omitempty"`
	}{e.Error, e.Stack, e.Panic})
	return string(b[1 : len(b)-1])
}

func fromMicros(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// decodeJob builds a JobInfo from a job hash; ok is false when the hash is empty (no such job).
func decodeJob(id, queue string, f map[string]string) (*asyncmqtype.JobInfo, error) {
	j := &asyncmqtype.JobInfo{
		ID: id, Queue: queue, Task: f["t"], State: asyncmqtype.State(f["st"]),
		Priority: atoi(f["pr"]), Attempts: atoi(f["at"]), MaxRetries: atoi(f["mr"]),
		RunAt: fromMicros(f["ra"]), CreatedAt: fromMicros(f["ca"]), StartedAt: fromMicros(f["sa"]),
		FinishedAt: fromMicros(f["fa"]), WorkerID: f["w"], LeaseToken: f["lt"],
		LeaseExpiresAt: fromMicros(f["le"]), Stalls: atoi(f["sl"]), UniqueKey: f["uk"],
		UniqueUntil: fromMicros(f["uu"]), PendingDeps: atoi(f["pd"]), CancelRequested: f["cr"] == "1",
		RepeatableID: f["rep"], OnParentFailure: asyncmqtype.ParentFailure(f["op"]),
	}
	var err error
	if j.Headers, err = backend.DecodeHeaders(id, []byte(f["hd"])); err != nil {
		return nil, err
	}
	if v := f["p"]; v != "" {
		j.Payload = json.RawMessage(v)
	}
	if v := f["r"]; v != "" {
		j.Result = json.RawMessage(v)
	}
	if v := f["pg"]; v != "" {
		j.Progress = json.RawMessage(v)
	}
	if v := f["to"]; v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		j.Timeout = time.Duration(n)
	}
	if v := f["bo"]; v != "" {
		if err := json.Unmarshal([]byte(v), &j.Backoff); err != nil {
			return nil, fmt.Errorf("decode backoff of job %q: %w", id, err)
		}
	}
	if v := f["dep"]; v != "" {
		j.DependsOn = strings.Split(v, depSep)
	}
	if v := f["er"]; v != "" {
		var es []storedError
		if err := json.Unmarshal([]byte(v), &es); err != nil {
			return nil, fmt.Errorf("decode errors of job %q: %w", id, err)
		}
		for _, e := range es {
			j.Errors = append(j.Errors, asyncmqtype.AttemptError{
				Attempt: e.Attempt, At: time.UnixMicro(e.At).UTC(), Error: e.Error, Stack: e.Stack, Panic: e.Panic,
			})
		}
	}
	return j, nil
}

// pairs turns a script's HGETALL reply into a map.
func pairs(v any) map[string]string {
	arr, _ := v.([]any)
	m := make(map[string]string, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		m[k] = val
	}
	return m
}

// jobArgs encodes one job as the 15 script arguments of the enqueue prelude.
func jobArgs(j *asyncmqtype.JobInfo) []any {
	// Headers passed ValidateHeaders, so they encode; '' stores no field.
	hd, _ := backend.EncodeHeaders(j.Headers)
	bo := ""
	if j.Backoff != (asyncmqtype.Backoff{}) {
		b, _ := json.Marshal(j.Backoff)
		bo = string(b)
	}
	to := ""
	if j.Timeout != 0 {
		to = strconv.FormatInt(int64(j.Timeout), 10)
	}
	uu := ""
	if !j.UniqueUntil.IsZero() {
		uu = micros(j.UniqueUntil)
	}
	deps := ""
	if len(j.DependsOn) > 0 {
		seen := make(map[string]bool, len(j.DependsOn))
		var uniq []string
		for _, d := range j.DependsOn {
			if !seen[d] {
				seen[d] = true
				uniq = append(uniq, d)
			}
		}
		deps = strings.Join(uniq, depSep)
	}
	return []any{
		j.ID, j.Task, string(j.Payload), strconv.Itoa(j.Priority), strconv.Itoa(j.MaxRetries), bo, to,
		micros(j.RunAt), micros(j.CreatedAt), j.UniqueKey, uu, deps, j.RepeatableID, string(j.OnParentFailure),
		string(hd),
	}
}
