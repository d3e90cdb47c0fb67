package redis

import (
	"encoding/json"
	"fmt"
	"iter"
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

// decodeJob builds a JobInfo from the fields of a job hash, read once each as they come (a
// claim's reply is decoded without building a map first). A 'rec' field is a packed record
// (record.go): its fields are set first, so that the hash's own fields win, as jkey in
// prelude.lua merges them.
func decodeJob(id, queue string, fields iter.Seq2[string, string]) (*asyncmqtype.JobInfo, error) {
	d := jobDecoder{j: &asyncmqtype.JobInfo{ID: id, Queue: queue}}
	for k, v := range fields {
		if k != "rec" || v == "" {
			continue
		}
		f, err := unpackRecord(v)
		if err != nil {
			return nil, fmt.Errorf("decode job %q: %w", id, err)
		}
		for i := 0; i+1 < len(f); i += 2 {
			d.set(f[i], f[i+1])
		}
	}
	for k, v := range fields {
		if k != "rec" {
			d.set(k, v)
		}
	}
	return d.finish()
}

// jobDecoder sets a JobInfo's fields from a job hash's, keeping the encoded ones for finish.
type jobDecoder struct {
	j                   *asyncmqtype.JobInfo
	hd, to, bo, dep, er string
}

func (d *jobDecoder) set(k, v string) {
	j := d.j
	switch k {
	case "t":
		j.Task = v
	case "p":
		if v != "" {
			j.Payload = json.RawMessage(v)
		}
	case "st":
		j.State = asyncmqtype.State(v)
	case "pr":
		j.Priority = atoi(v)
	case "at":
		j.Attempts = atoi(v)
	case "mr":
		j.MaxRetries = atoi(v)
	case "ra":
		j.RunAt = fromMicros(v)
	case "ca":
		j.CreatedAt = fromMicros(v)
	case "sa":
		j.StartedAt = fromMicros(v)
	case "fa":
		j.FinishedAt = fromMicros(v)
	case "w":
		j.WorkerID = v
	case "lt":
		j.LeaseToken = v
	case "le":
		j.LeaseExpiresAt = fromMicros(v)
	case "sl":
		j.Stalls = atoi(v)
	case "uk":
		j.UniqueKey = v
	case "uu":
		j.UniqueUntil = fromMicros(v)
	case "pd":
		j.PendingDeps = atoi(v)
	case "cr":
		j.CancelRequested = v == "1"
	case "rep":
		j.RepeatableID = v
	case "op":
		j.OnParentFailure = asyncmqtype.ParentFailure(v)
	case "r":
		if v != "" {
			j.Result = json.RawMessage(v)
		}
	case "pg":
		if v != "" {
			j.Progress = json.RawMessage(v)
		}
	case "hd":
		d.hd = v
	case "to":
		d.to = v
	case "bo":
		d.bo = v
	case "dep":
		d.dep = v
	case "er":
		d.er = v
	}
}

func (d *jobDecoder) finish() (*asyncmqtype.JobInfo, error) {
	j, id := d.j, d.j.ID
	// A lease's fields count only while the job is active: finish leaves them in the hash of a
	// job it ends (finish_jobs.lua), and the next claim writes over them.
	if j.State != asyncmqtype.StateActive {
		j.LeaseToken, j.LeaseExpiresAt = "", time.Time{}
	}
	hd, to, bo, dep, er := d.hd, d.to, d.bo, d.dep, d.er
	var err error
	if j.Headers, err = backend.DecodeHeaders(id, []byte(hd)); err != nil {
		return nil, err
	}
	if to != "" {
		n, _ := strconv.ParseInt(to, 10, 64)
		j.Timeout = time.Duration(n)
	}
	if bo != "" {
		if err := json.Unmarshal([]byte(bo), &j.Backoff); err != nil {
			return nil, fmt.Errorf("decode backoff of job %q: %w", id, err)
		}
	}
	if dep != "" {
		j.DependsOn = strings.Split(dep, depSep)
	}
	if er != "" {
		var es []storedError
		if err := json.Unmarshal([]byte(er), &es); err != nil {
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

// pairs reads a script's HGETALL reply (field, value, ...) as field-value pairs.
func pairs(v any) iter.Seq2[string, string] {
	arr, _ := v.([]any)
	return func(yield func(string, string) bool) {
		for i := 0; i+1 < len(arr); i += 2 {
			k, _ := arr[i].(string)
			val, _ := arr[i+1].(string)
			if !yield(k, val) {
				return
			}
		}
	}
}

// optFields names the hash field of each code of jobArgs' optional-fields argument (OPT_CODES in
// enqueue_lib.lua).
var optFields = [256]string{'b': "bo", 't': "to", 'k': "uk", 'u': "uu", 'd': "dep", 'r': "rep", 'o': "op", 'h': "hd"}

// visitOptional calls f with the code, hash field and value of each optional field j has.
func visitOptional(j *asyncmqtype.JobInfo, f func(code byte, field, v string)) {
	opt := func(code byte, v string) {
		if v != "" {
			f(code, optFields[code], v)
		}
	}
	if j.Backoff != (asyncmqtype.Backoff{}) {
		b, _ := json.Marshal(j.Backoff)
		opt('b', string(b))
	}
	if j.Timeout != 0 {
		opt('t', strconv.FormatInt(int64(j.Timeout), 10))
	}
	opt('k', j.UniqueKey)
	if !j.UniqueUntil.IsZero() {
		opt('u', micros(j.UniqueUntil))
	}
	if len(j.DependsOn) > 0 {
		seen := make(map[string]bool, len(j.DependsOn))
		var uniq []string
		for _, d := range j.DependsOn {
			if !seen[d] {
				seen[d] = true
				uniq = append(uniq, d)
			}
		}
		opt('d', strings.Join(uniq, depSep))
	}
	opt('r', j.RepeatableID)
	opt('o', string(j.OnParentFailure))
	// Headers passed ValidateHeaders, so they encode; '' stores no field.
	hd, _ := backend.EncodeHeaders(j.Headers)
	opt('h', string(hd))
}

// jobArgs encodes one job as the NF script arguments of the enqueue scripts: the fields every
// job has, then its optional fields in one argument (see opts in enqueue_lib.lua), empty when it
// has none.
func jobArgs(j *asyncmqtype.JobInfo) []any {
	var o []byte
	visitOptional(j, func(code byte, _, v string) {
		o = append(o, code)
		o = strconv.AppendInt(o, int64(len(v)), 10)
		o = append(o, ':')
		o = append(o, v...)
	})
	return []any{
		j.ID, j.Task, string(j.Payload), strconv.Itoa(j.Priority), strconv.Itoa(j.MaxRetries),
		micros(j.RunAt), micros(j.CreatedAt), string(o),
	}
}
