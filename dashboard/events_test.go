package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// frame is one SSE frame: an event, or a comment / retry line.
type frame struct {
	id, event, data, comment, retry string
}

type sseStream struct {
	t      *testing.T
	frames chan frame
	status int
	header http.Header
	cancel context.CancelFunc
}

// stream opens the event stream and reads its frames in the background until the test ends.
func (e *env) stream(path string, hdr ...string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+e.base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		e.t.Fatalf("open stream: %v", err)
	}
	s := &sseStream{t: e.t, frames: make(chan frame, 1024), status: res.StatusCode, header: res.Header, cancel: cancel}
	go func() {
		defer res.Body.Close()
		defer close(s.frames)
		br := bufio.NewReader(res.Body)
		var f frame
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				s.frames <- f
				f = frame{}
			case strings.HasPrefix(line, ":"):
				f.comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					f.id = v
				case "event":
					f.event = v
				case "data":
					f.data = v
				case "retry":
					f.retry = v
				}
			}
		}
	}()
	return s
}

// next returns the next frame that satisfies keep, failing the test after a timeout.
func (s *sseStream) next(keep func(frame) bool) frame {
	s.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if keep == nil || keep(f) {
				return f
			}
		case <-deadline:
			s.t.Fatal("no matching frame within 5s")
		}
	}
}

func isEvent(name string) func(frame) bool { return func(f frame) bool { return f.event == name } }

func decodeEvent(t *testing.T, f frame) eventView {
	t.Helper()
	var ev eventView
	if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
		t.Fatalf("event data %q: %v", f.data, err)
	}
	if f.id != ev.Cursor {
		t.Errorf("frame id %q does not match event cursor %q", f.id, ev.Cursor)
	}
	return ev
}

func TestEventStreamDeliversJobEvents(t *testing.T) {
	t.Parallel()
	for _, sessions := range []bool{false, true} {
		t.Run(fmt.Sprintf("sessions=%v", sessions), func(t *testing.T) {
			t.Parallel()
			opts := []option{}
			if sessions {
				opts = append(opts, withSessions())
			}
			e := setup(t, opts...)
			e.add(job("emails", "send", ""))
			s := e.stream("/events")
			if s.status != http.StatusOK || s.header.Get("Content-Type") != "text/event-stream" || s.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, headers %v", s.status, s.header)
			}
			if f := s.next(nil); f.retry != "3000" {
				t.Errorf("first frame = %+v, want retry: 3000", f)
			}
			first := s.next(isEvent("counts"))
			var counts countsPayload
			if err := json.Unmarshal([]byte(first.data), &counts); err != nil || counts.TotalJobs != 1 || counts.Totals[asyncmqtype.StateWaiting] != 1 {
				t.Fatalf("initial counts = %s (%v)", first.data, err)
			}
			j := job("emails", "send_<b>", `{"password":"p4ss"}`)
			e.add(j)
			ev := decodeEvent(t, s.next(isEvent("job")))
			if ev.JobID != j.ID || ev.Type != string(asyncmqtype.EventEnqueued) || ev.Queue != "emails" || ev.State != asyncmqtype.StateWaiting {
				t.Errorf("event = %+v", ev)
			}
			after := s.next(isEvent("counts"))
			if err := json.Unmarshal([]byte(after.data), &counts); err != nil || counts.TotalJobs != 2 {
				t.Errorf("counts after enqueue = %s", after.data)
			}
			if after.id != ev.Cursor {
				t.Errorf("counts id = %q, want the last event's %q", after.id, ev.Cursor)
			}
			// A failure elsewhere (a worker in another process) arrives live with its message redacted.
			e.finishAll("emails", asyncmqtype.OutcomeFailed, "db error password=hunter2", "")
			failed := decodeEvent(t, s.next(func(f frame) bool { return f.event == "job" && strings.Contains(f.data, "job:failed") }))
			if strings.Contains(failed.Detail, "hunter2") || !strings.Contains(failed.Detail, "[redacted]") {
				t.Errorf("detail = %q, want redacted", failed.Detail)
			}
		})
	}
}

func TestEventStreamResumes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a, b, c := job("q", "t", ""), job("other", "t", ""), job("q", "t", "")
	e.add(a)
	e.add(b)
	e.add(c)
	evs, err := e.insp.Events(context.Background(), asyncmqtype.EventsParams{})
	if err != nil || len(evs) != 3 {
		t.Fatalf("events = %v, %v", evs, err)
	}
	first := evs[0].Cursor
	tests := []struct {
		name  string
		path  string
		hdr   []string
		wants []string // job IDs expected before the counts snapshot, in order
	}{
		{"Last-Event-ID header", "/events", []string{"Last-Event-ID", first}, []string{b.ID, c.ID}},
		{"lastEventId query", "/events?lastEventId=" + first, nil, []string{b.ID, c.ID}},
		{"queue filter", "/events?queue=q", []string{"Last-Event-ID", "0"}, []string{a.ID, c.ID}},
		{"no resume point", "/events", nil, nil},
		{"resume point ahead", "/events", []string{"Last-Event-ID", "999999"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := e.stream(tt.path, tt.hdr...)
			var got []string
			for {
				f := s.next(func(f frame) bool { return f.event != "" })
				if f.event == "counts" {
					break
				}
				got = append(got, decodeEvent(t, f).JobID)
			}
			if strings.Join(got, ",") != strings.Join(tt.wants, ",") {
				t.Errorf("replayed %v, want %v", got, tt.wants)
			}
		})
	}
}

func TestEventStreamRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, v := range []string{"a b", "1\x00", "é", strings.Repeat("9", maxCursorBytes+1)} {
		r := e.get("/events?lastEventId=" + url.QueryEscape(v))
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, "Last-Event-ID")
	}
	// A well-formed cursor the store does not know resets the page instead of replaying.
	e.add(job("q", "t", ""))
	s := e.stream("/events", "Last-Event-ID", "not-a-cursor")
	f := s.next(func(f frame) bool { return f.event == "reset" || f.event == "job" })
	if f.event != "reset" || !strings.Contains(f.data, "unknown event cursor") {
		t.Errorf("first frame after an unknown cursor = %+v, want a reset", f)
	}
}

func TestEventStreamHeartbeat(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.d.hub.heartbeat.Store(int64(30 * time.Millisecond))
	s := e.stream("/events")
	if f := s.next(func(f frame) bool { return f.comment != "" }); f.comment != "ping" {
		t.Errorf("comment = %q", f.comment)
	}
}

func TestEventStreamEndsOnClose(t *testing.T) {
	t.Parallel()
	e := setup(t)
	s := e.stream("/events")
	s.next(isEvent("counts"))
	e.d.Close()
	deadline := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case _, ok := <-s.frames:
			done = !ok
		case <-deadline:
			t.Fatal("stream still open after Close")
		}
	}
	r := e.get("/events")
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantContains(t, r.body, "Live updates are unavailable")
}

// countingBackend counts the reads the live-update hub and the overview make.
type countingBackend struct {
	backend.Store
	queues, events atomic.Int64
}

func (c *countingBackend) Queues(ctx context.Context) ([]asyncmqtype.QueueInfo, error) {
	c.queues.Add(1)
	return c.Store.Queues(ctx)
}

func (c *countingBackend) Events(ctx context.Context, p asyncmqtype.EventsParams) ([]asyncmqtype.Event, error) {
	c.events.Add(1)
	return c.Store.Events(ctx, p)
}

func TestHubSharesOneQueryPerTick(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	cb := &countingBackend{Store: mem}
	e := setup(t, withBackend(cb))
	e.add(job("q", "t", ""))
	streams := []*sseStream{e.stream("/events"), e.stream("/events"), e.stream("/events?queue=q")}
	for _, s := range streams {
		s.next(isEvent("counts"))
	}
	// With nothing happening, ticks read events but never the counts.
	base := cb.queues.Load()
	start := cb.events.Load()
	waitFor(t, func() bool { return cb.events.Load() >= start+5 })
	if got := cb.queues.Load(); got != base {
		t.Errorf("idle ticks read the counts %d times", got-base)
	}
	// One change: every client gets it, and the counts are read once for all of them.
	e.add(job("q", "t", ""))
	for _, s := range streams {
		s.next(isEvent("job"))
		s.next(isEvent("counts"))
	}
	if got := cb.queues.Load() - base; got != 1 {
		t.Errorf("one change read the counts %d times, want 1", got)
	}
}

func TestHubStopsPollingWithoutClients(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	cb := &countingBackend{Store: mem}
	e := setup(t, withBackend(cb))
	s := e.stream("/events")
	s.next(isEvent("counts"))
	s.cancel()
	waitFor(t, func() bool { return e.d.hub.clientCount() == 0 })
	// Let a tick notice the hub is idle, then make sure later ticks read nothing.
	t0 := e.d.hub.ticks.Load()
	waitFor(t, func() bool { return e.d.hub.ticks.Load() >= t0+2 })
	n := cb.events.Load()
	t1 := e.d.hub.ticks.Load()
	waitFor(t, func() bool { return e.d.hub.ticks.Load() >= t1+5 })
	if got := cb.events.Load(); got != n {
		t.Errorf("an idle hub read events %d more times", got-n)
	}
}

func TestHubDropsSlowClient(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	red, _ := newRedactor(nil)
	h := newHub(asyncmq.NewInspector(mem), red, time.Hour, quietLogger(), nil)
	t.Cleanup(h.close)
	slow, _, err := h.subscribe(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	fast, _, _ := h.subscribe(context.Background(), "")
	var read atomic.Int64
	go func() {
		for range fast.ch {
			read.Add(1)
		}
	}()
	send := func(from, to int) {
		for i := from; i < to; i++ {
			h.broadcast(message{id: strconv.Itoa(i), event: "job", data: []byte("{}")})
		}
	}
	// Fill the slow client's buffer while the fast one keeps up, then overflow it.
	send(0, clientBuffer)
	waitFor(t, func() bool { return read.Load() == clientBuffer })
	send(clientBuffer, clientBuffer+10)
	waitFor(t, func() bool { return read.Load() == clientBuffer+10 })
	n := 0
	for range slow.ch {
		n++
	}
	if n != clientBuffer {
		t.Errorf("slow client got %d messages before being dropped, want %d", n, clientBuffer)
	}
	if c := h.clientCount(); c != 1 {
		t.Errorf("clients = %d, want the fast one only", c)
	}
	h.unsubscribe(slow) // unsubscribing a dropped client is harmless
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEventHistoryShowsChangesAtOnce checks that the event history, whose newest events every
// viewer shares for a moment, shows what a dashboard action just did, filtered or not.
func TestEventHistoryShowsChangesAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := job("q", "t", "")
	e.add(a)
	e.finishAll("q", asyncmqtype.OutcomeFailed, "boom", "")
	before := e.get("/events/history")
	wantStatus(t, before, http.StatusOK)
	wantContains(t, before.body, "job:failed")
	// The page now holds the shared snapshot the action must drop.

	form := url.Values{"action": {"retry"}, "scope": {"selected"}, "state": {"failed"}, "job_id": {a.ID}, "confirm": {"yes"}}
	wantStatus(t, e.post("/queues/q/jobs", form), http.StatusSeeOther)
	evs, err := e.insp.RecentEvents(t.Context(), asyncmqtype.RecentEventsParams{Limit: 1})
	if err != nil || len(evs) != 1 {
		t.Fatalf("newest event: %v, %v", evs, err)
	}
	newest := evs[0]
	if newest.JobID != a.ID || newest.Type == asyncmqtype.EventFailed {
		t.Fatalf("the retry recorded no event: newest is %+v", newest)
	}
	for _, path := range []string{"/events/history", "/events/history?queue=q", "/events/history?event=" + string(newest.Type)} {
		r := e.get(path)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `title="`+newest.Cursor+`"`)
	}
}
