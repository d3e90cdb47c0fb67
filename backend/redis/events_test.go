package redis_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	goredis "github.com/redis/go-redis/v9"
)

func enqueueIDs(t *testing.T, s backend.Store, ids ...string) { enqueueAs(t, s, false, ids...) }

// enqueueAs enqueues a job of each ID in one call (see pathParams).
func enqueueAs(t *testing.T, s backend.Store, plain bool, ids ...string) {
	t.Helper()
	jobs := make([]*asyncmqtype.JobInfo, len(ids))
	for i, id := range ids {
		jobs[i] = &asyncmqtype.JobInfo{ID: id, Queue: "ev", Task: "task-" + id, Payload: []byte(`{}`)}
	}
	if err := s.Enqueue(t.Context(), pathParams(plain, jobs...)); err != nil {
		t.Fatalf("enqueue %v: %v", ids, err)
	}
}

var enqueuePaths = []struct {
	name  string
	plain bool
}{{"script", false}, {"plain", true}}

func allEvents(t *testing.T, s backend.Store, after string) []asyncmqtype.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), asyncmqtype.EventsParams{After: after})
	if err != nil {
		t.Fatalf("events after %q: %v", after, err)
	}
	return evs
}

func jobIDs(evs []asyncmqtype.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.JobID
	}
	return out
}

// The events of one call share a stream entry; each still reads as its own event with its own
// cursor, and a reader resumes after any of them, including an ID holding the separator the
// shared entry uses.
func TestEventsOfOneCall(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ids := []string{"a", "b\x1fc", "d", "e", "f"}
	enqueueIDs(t, s, ids...)
	enqueueIDs(t, s, "g")
	evs := allEvents(t, s, "")
	want := append(ids, "g")
	if fmt.Sprint(jobIDs(evs)) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", jobIDs(evs), want)
	}
	for i, e := range evs {
		if e.Type != asyncmqtype.EventEnqueued || e.Task != "task-"+want[i] || e.Queue != "ev" || e.State != asyncmqtype.StateWaiting || e.At.IsZero() {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
	for i := range evs {
		if got := jobIDs(allEvents(t, s, evs[i].Cursor)); fmt.Sprint(got) != fmt.Sprint(want[i+1:]) {
			t.Fatalf("events after %q (event %d) = %q, want %q", evs[i].Cursor, i, got, want[i+1:])
		}
	}
	recent, err := s.RecentEvents(t.Context(), asyncmqtype.RecentEventsParams{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := jobIDs(recent); fmt.Sprint(got) != fmt.Sprint([]string{"g", "f", "e"}) {
		t.Fatalf("recent events %q, want g f e", got)
	}
	last, err := s.LastEventCursor(t.Context())
	if err != nil || last != evs[len(evs)-1].Cursor {
		t.Fatalf("LastEventCursor = %q, %v; want %q", last, err, evs[len(evs)-1].Cursor)
	}
}

// The stream keeps about events= events, however many each entry holds, and always the newest.
func TestEventsBounded(t *testing.T) {
	t.Parallel()
	for _, path := range enqueuePaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			url := testURL(t)
			s := openStore(t, withPrefix(url, freshPrefix(t, url))+"&events=200")
			n := 0
			for round := range 20 {
				var ids []string
				size := 1 + round%3*24 // calls of 1, 25 and 49 jobs
				for range size {
					ids = append(ids, fmt.Sprintf("j%04d", n))
					n++
				}
				enqueueAs(t, s, path.plain, ids...)
			}
			evs := allEvents(t, s, "")
			if len(evs) < 150 || len(evs) > 220 {
				t.Fatalf("the stream holds %d events after %d, want about 200 (events=200)", len(evs), n)
			}
			if got, want := evs[len(evs)-1].JobID, fmt.Sprintf("j%04d", n-1); got != want {
				t.Fatalf("newest event is for %q, want %q", got, want)
			}
		})
	}
}

// A stream written before events of one call shared an entry reads as before, and the events
// written after it follow it; the bound counts its entries too.
func TestEventsWrittenOneEntryEach(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	raw := rawClient(t, url)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		err := raw.XAdd(t.Context(), &goredis.XAddArgs{Stream: prefix + ":events", Values: []any{
			"t", "job:enqueued", "q", "ev", "j", fmt.Sprintf("old%d", i), "k", "t", "s", "waiting", "a", fmt.Sprint(at.UnixMicro()), "d", "",
		}}).Err()
		if err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, withPrefix(url, prefix)+"&events=6")
	old := allEvents(t, s, "")
	if got := jobIDs(old); fmt.Sprint(got) != "[old0 old1 old2]" || !old[0].At.Equal(at) || old[1].Type != asyncmqtype.EventEnqueued {
		t.Fatalf("events of the old stream: %+v", old)
	}
	enqueueIDs(t, s, "a", "b")
	if got := jobIDs(allEvents(t, s, old[2].Cursor)); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("events after the old ones: %q", got)
	}
	enqueueIDs(t, s, "c", "d", "e")
	if got := jobIDs(allEvents(t, s, "")); fmt.Sprint(got) != "[old2 a b c d e]" {
		t.Fatalf("events once past the bound of 6: %q", got)
	}
}

// A stream of one-event entries (written before batching, or by single-job calls) followed by
// calls of hundreds of events stays near its bound: a call cuts as many entries as it adds
// events, not a fixed 32.
func TestEventsBoundedAfterSmallEntries(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url))+"&events=320")
	for i := range 352 {
		enqueueIDs(t, s, fmt.Sprintf("s%04d", i))
	}
	for r := range 10 {
		ids := make([]string, 500)
		for i := range ids {
			ids[i] = fmt.Sprintf("b%02d-%04d", r, i)
		}
		enqueueIDs(t, s, ids...)
	}
	if got := len(allEvents(t, s, "")); got > 400 {
		t.Fatalf("the stream holds %d events, want about 320 (events=320)", got)
	}
}

// The event counter corrects itself when the stream was emptied behind its back (an operator's
// DEL, the trim of an older version): the newest events are kept, up to the bound.
func TestEventsCounterCorrectsItself(t *testing.T) {
	t.Parallel()
	for _, path := range enqueuePaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			url := testURL(t)
			prefix := freshPrefix(t, url)
			s := openStore(t, withPrefix(url, prefix)+"&events=100")
			for i := range 105 {
				enqueueAs(t, s, path.plain, fmt.Sprintf("s%04d", i))
			}
			raw := rawClient(t, url)
			if err := raw.Del(t.Context(), prefix+":events").Err(); err != nil {
				t.Fatal(err)
			}
			for i := range 60 {
				enqueueAs(t, s, path.plain, fmt.Sprintf("n%04d", i))
			}
			if got := len(allEvents(t, s, "")); got != 60 {
				t.Fatalf("the stream holds %d events after 60 written to an emptied stream, want all 60 (events=100)", got)
			}
		})
	}
}

// One call of many jobs is spread over stream entries of at most 256 events, so reading a page
// of events never decodes more than that.
func TestEventsEntriesBounded(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	prefix := freshPrefix(t, url)
	s := openStore(t, withPrefix(url, prefix))
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("j%04d", i)
	}
	enqueueIDs(t, s, ids...)
	raw := rawClient(t, url)
	if n := raw.XLen(t.Context(), prefix+":events").Val(); n != 4 {
		t.Errorf("1,000 events of one call fill %d stream entries, want 4 of at most 256", n)
	}
	if got := jobIDs(allEvents(t, s, "")); len(got) != 1000 || got[0] != "j0000" || got[999] != "j0999" {
		t.Errorf("the events of the call read back as %d events from %v", len(got), got[:min(3, len(got))])
	}
}

// Paging with small limits through entries of one and of many events, one holding a job ID with
// the separator (an entry of its own), reads every event once, in order, with the queue filter
// and without.
func TestEventsPagedWithSmallLimits(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	enqueueIDs(t, s, "a")
	enqueueIDs(t, s, "b", "c\x1fx", "d", "e", "f")
	enqueueIDs(t, s, "g", "h")
	all := jobIDs(allEvents(t, s, ""))
	if len(all) != 8 {
		t.Fatalf("events of 8 enqueued jobs: %q", all)
	}
	for _, queue := range []string{"", "ev"} {
		for limit := 1; limit <= 4; limit++ {
			var got []string
			after := ""
			for range 20 {
				evs, err := s.Events(t.Context(), asyncmqtype.EventsParams{After: after, Limit: limit, Queue: queue})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) == 0 {
					break
				}
				got = append(got, jobIDs(evs)...)
				after = evs[len(evs)-1].Cursor
			}
			if fmt.Sprint(got) != fmt.Sprint(all) {
				t.Errorf("queue %q, limit %d: paged events %q, want %q", queue, limit, got, all)
			}
		}
	}
}

// The events of one Finish call of mixed outcomes share entries however their types, states and
// details alternate, and each reads back as its own: a failure whose message holds the entries'
// separator gets an entry of its own between the others.
func TestEventsOfOneCallOfMixedOutcomes(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	s := openStore(t, withPrefix(url, freshPrefix(t, url)))
	ctx := t.Context()
	ids := []string{"m-0", "m-1", "m-2", "m-3", "m-4", "m-5"}
	enqueueIDs(t, s, ids...)
	got, err := s.Claim(ctx, backend.ClaimParams{Queue: "ev", WorkerID: "w", Limit: len(ids), LeaseDuration: time.Minute})
	if err != nil || len(got) != len(ids) {
		t.Fatalf("claimed %d jobs (%v), want %d", len(got), err, len(ids))
	}
	after := allEvents(t, s, "")
	cursor := after[len(after)-1].Cursor
	type want struct {
		typ    asyncmqtype.EventType
		state  asyncmqtype.State
		detail string
	}
	cases := []struct {
		outcome asyncmqtype.Outcome
		msg     string
		want    want
	}{
		{asyncmqtype.OutcomeCompleted, "", want{asyncmqtype.EventCompleted, asyncmqtype.StateCompleted, ""}},
		{asyncmqtype.OutcomeFailed, "plain", want{asyncmqtype.EventFailed, asyncmqtype.StateFailed, "plain"}},
		{asyncmqtype.OutcomeCompleted, "", want{asyncmqtype.EventCompleted, asyncmqtype.StateCompleted, ""}},
		{asyncmqtype.OutcomeFailed, "bad\x1fthing", want{asyncmqtype.EventFailed, asyncmqtype.StateFailed, "bad\x1fthing"}},
		{asyncmqtype.OutcomeCompleted, "", want{asyncmqtype.EventCompleted, asyncmqtype.StateCompleted, ""}},
		{asyncmqtype.OutcomeRetry, "again", want{asyncmqtype.EventRetrying, asyncmqtype.StateDelayed, "again"}},
	}
	items := make([]backend.Finish, len(got))
	byID := map[string]want{}
	for i, j := range got {
		c := cases[i]
		items[i] = backend.Finish{JobID: j.ID, LeaseToken: j.LeaseToken, Outcome: c.outcome, Duration: time.Millisecond, RetryDelay: time.Hour}
		if c.msg != "" {
			items[i].Error = &asyncmqtype.AttemptError{At: time.Now(), Error: c.msg}
		}
		byID[j.ID] = c.want
	}
	if _, err := s.Finish(ctx, backend.FinishParams{Items: items}); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s, cursor)
	if len(evs) != len(got) {
		t.Fatalf("%d events after the claim, want %d: %+v", len(evs), len(got), evs)
	}
	for i, e := range evs {
		if e.JobID != got[i].ID {
			t.Fatalf("event %d is of job %q, want %q", i, e.JobID, got[i].ID)
		}
		w := byID[e.JobID]
		if e.Type != w.typ || e.State != w.state || e.Detail != w.detail || e.Task != "task-"+e.JobID || e.At.IsZero() {
			t.Errorf("event %d = %+v, want type %s, state %s, detail %q", i, e, w.typ, w.state, w.detail)
		}
	}
}
