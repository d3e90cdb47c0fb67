package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/jackc/pgx/v5"
)

// copyColumns are the columns of asyncmq_jobs that copyJobs writes, in the order copyStream
// encodes them; the others take their defaults.
var copyColumns = []string{"id", "queue", "task", "payload", "state", "priority", "max_retries", "backoff_kind",
	"backoff_base", "backoff_max", "backoff_jitter", "timeout", "run_at", "created_at", "repeatable_id", "headers"}

// qCopyJobs opens the transaction and starts the COPY in one message: the rows follow at once,
// without waiting for an answer.
var qCopyJobs = "BEGIN; COPY asyncmq_jobs (" + strings.Join(copyColumns, ", ") + ") FROM STDIN BINARY"

// qEventBatch records events of one type and time as log rows of a few dozen events each (see
// eventArrays.rows): $3..$5 are the queue, task and state shared by every event (when $6..$9 are NULL), $6 queues,
// $7 job IDs, $8 tasks, $9 states; row i takes elements $10[i]..$11[i] of the arrays.
const qEventBatch = `INSERT INTO asyncmq_event_log (type, at, queue, task, state, queues, job_ids, tasks, states)
SELECT $1, $2, $3, $4, $5, ($6::text[])[lo:hi], ($7::text[])[lo:hi], ($8::text[])[lo:hi], ($9::text[])[lo:hi]
FROM unnest($10::int[], $11::int[]) AS c(lo, hi) ORDER BY lo`

const qQueuesKnown = `INSERT INTO asyncmq_queues (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`

// copyJobs writes one large call of plain jobs with COPY, then their events and their queues, in
// one transaction of two round trips: the BEGIN goes with the COPY, the COMMIT with the inserts
// after it. Its caller waits for each call, so every round trip the server spends idle is lost
// to the whole enqueue.
func (b *Backend) copyJobs(ctx context.Context, jobs []*asyncmqtype.JobInfo, now time.Time) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire a connection: %w", err)
	}
	defer conn.Release()
	pc := conn.Conn().PgConn()
	defer func() {
		// A failed statement leaves the transaction open: roll it back so that the connection
		// goes back to the pool (Release closes a connection still in a transaction).
		if pc.TxStatus() != 'I' && !pc.IsClosed() {
			_, _ = pc.Exec(ctx, "ROLLBACK").ReadAll()
		}
	}()

	src := &copyStream{jobs: jobs, now: now}
	if _, err := pc.CopyFrom(ctx, src, qCopyJobs); err != nil {
		if src.err != nil {
			return src.err
		}
		return insertError(err)
	}

	ev := enqueuedEvents(jobs, now)
	queues := make([]string, 0, 1)
	for _, j := range jobs {
		if !slices.Contains(queues, j.Queue) {
			queues = append(queues, j.Queue)
		}
	}
	batch := &pgx.Batch{}
	lo, hi := ev.rows()
	batch.Queue(qEventBatch, string(asyncmqtype.EventEnqueued), now, ev.queue, ev.task, ev.state,
		ev.queues, ev.ids, ev.tasks, ev.states, lo, hi)
	batch.Queue(qQueuesKnown, queues)
	batch.Queue("COMMIT")
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("record the jobs' events and queues, and commit: %w", err)
	}

	for _, j := range jobs {
		j.State, j.PendingDeps = copiedState(j, now), 0
	}
	b.wakeJobs(jobs, now)
	return nil
}

// copiedState is the state copyJobs stores a job with.
func copiedState(j *asyncmqtype.JobInfo, now time.Time) asyncmqtype.State {
	if j.RunAt.After(now) {
		return asyncmqtype.StateDelayed
	}
	return asyncmqtype.StateWaiting
}

// eventArrays are the fields of the log rows of job:enqueued events. A field every event shares
// goes in its scalar (queue, task, state) with a NULL array, which the event reader expands: a
// bulk enqueue of one queue and task then stores one array of IDs instead of four arrays of a
// thousand elements, which PostgreSQL would compress and the reader decompress.
type eventArrays struct {
	queue, task, state         string
	queues, ids, tasks, states []string
}

func enqueuedEvents(jobs []*asyncmqtype.JobInfo, now time.Time) eventArrays {
	var e eventArrays
	e.ids = make([]string, len(jobs))
	for i, j := range jobs {
		e.ids[i] = j.ID
	}
	e.queue, e.queues = shared(jobs, func(j *asyncmqtype.JobInfo) string { return j.Queue })
	e.task, e.tasks = shared(jobs, func(j *asyncmqtype.JobInfo) string { return j.Task })
	e.state, e.states = shared(jobs, func(j *asyncmqtype.JobInfo) string { return string(copiedState(j, now)) })
	return e
}

// eventRowBytes bounds the array bytes of one log row, so that the row stays under PostgreSQL's
// TOAST threshold (about 2 kB): a larger row would have its arrays compressed when written and
// decompressed when read, which for a thousand job IDs cost the server more than the COPY of a
// tenth of the jobs.
const eventRowBytes = 1500

// rows splits the events into log rows of at most eventRowBytes of array elements (and at least
// one event): it returns the 1-based bounds of each row's elements.
func (e eventArrays) rows() (lo, hi []int32) {
	size := 0
	for i := range e.ids {
		n := 4 + len(e.ids[i]) // an element's length word and text
		if e.queues != nil {
			n += 4 + len(e.queues[i])
		}
		if e.tasks != nil {
			n += 4 + len(e.tasks[i])
		}
		if e.states != nil {
			n += 4 + len(e.states[i])
		}
		if len(lo) == 0 || size+n > eventRowBytes {
			lo, hi = append(lo, int32(i+1)), append(hi, 0)
			size = 0
		}
		size += n
		hi[len(hi)-1] = int32(i + 1)
	}
	return lo, hi
}

// copyStream is the COPY data of jobs in PostgreSQL's binary format, encoded row by row as the
// connection reads it: no row is boxed into interface values or planned per value, and the
// server parses no text.
type copyStream struct {
	jobs []*asyncmqtype.JobInfo
	now  time.Time
	next int    // the next job to encode
	buf  []byte // encoded bytes not yet read
	done bool   // the trailer is in buf
	err  error  // why a job could not be encoded
}

// Read fills p with the next bytes of the stream, encoding rows until p is full.
func (s *copyStream) Read(p []byte) (int, error) {
	if s.buf == nil {
		s.buf = append(make([]byte, 0, 64<<10), "PGCOPY\n\377\r\n\000"...)
		s.buf = binary.BigEndian.AppendUint32(s.buf, 0) // flags
		s.buf = binary.BigEndian.AppendUint32(s.buf, 0) // header extension length
	}
	for len(s.buf) < len(p) && !s.done {
		if s.next == len(s.jobs) {
			s.buf = binary.BigEndian.AppendUint16(s.buf, 0xffff) // the trailer: a field count of -1
			s.done = true
			break
		}
		var err error
		if s.buf, err = appendCopyRow(s.buf, s.jobs[s.next], s.now); err != nil {
			s.err = fmt.Errorf("job %q: %w", s.jobs[s.next].ID, err)
			return 0, s.err
		}
		s.next++
	}
	n := copy(p, s.buf)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	if n == 0 && s.done {
		return 0, io.EOF
	}
	return n, nil
}

// pgEpoch is PostgreSQL's timestamp origin, in Unix microseconds.
const pgEpoch = 946_684_800_000_000

// appendCopyRow appends one job's row, its fields in the order of copyColumns and in the binary
// format of their column types.
func appendCopyRow(b []byte, j *asyncmqtype.JobInfo, now time.Time) ([]byte, error) {
	runAt, created := j.RunAt, j.CreatedAt
	if runAt.IsZero() {
		runAt = now
	}
	if created.IsZero() {
		created = now
	}
	if j.MaxRetries > math.MaxInt32 {
		return b, fmt.Errorf("max retries %d out of range", j.MaxRetries)
	}
	headers, err := backend.EncodeHeaders(j.Headers)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(copyColumns)))
	b = appendText(b, j.ID)
	b = appendText(b, j.Queue)
	b = appendText(b, j.Task)
	b = appendJSONB(b, j.Payload)
	b = appendText(b, string(copiedState(j, now)))
	b = appendInt4(b, int32(j.Priority))
	b = appendInt4(b, int32(j.MaxRetries))
	b = appendText(b, string(j.Backoff.Kind))
	b = appendInt8(b, int64(j.Backoff.Base))
	b = appendInt8(b, int64(j.Backoff.Max))
	b = appendInt8(b, int64(math.Float64bits(j.Backoff.Jitter)))
	b = appendInt8(b, int64(j.Timeout))
	b = appendInt8(b, pgMicros(runAt))
	b = appendInt8(b, pgMicros(created))
	b = appendText(b, j.RepeatableID)
	b = appendJSONB(b, headers)
	return b, nil
}

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendJSONB appends a jsonb field: NULL when raw is empty, else format version 1 and the text.
func appendJSONB(b []byte, raw []byte) []byte {
	if len(raw) == 0 {
		return binary.BigEndian.AppendUint32(b, math.MaxUint32) // -1: NULL
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(raw)+1))
	b = append(b, 1)
	return append(b, raw...)
}

func appendInt4(b []byte, v int32) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

func appendInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// pgMicros is t as a binary timestamptz: microseconds since 2000-01-01 UTC.
func pgMicros(t time.Time) int64 {
	return t.Unix()*1_000_000 + int64(t.Nanosecond()/1000) - pgEpoch
}

// shared returns the value of field that every job has, or, when they differ, each job's value
// in order (and "").
func shared(jobs []*asyncmqtype.JobInfo, field func(*asyncmqtype.JobInfo) string) (string, []string) {
	first := field(jobs[0])
	for _, j := range jobs[1:] {
		if field(j) != first {
			all := make([]string, len(jobs))
			for k, j := range jobs {
				all[k] = field(j)
			}
			return "", all
		}
	}
	return first, nil
}
