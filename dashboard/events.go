package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// Live updates: one hub per Dashboard polls the backend's event log after the last ID it has
// seen and fans each event out to every connected browser. A browser that reconnects sends the
// last ID it received (Last-Event-ID) and gets what it missed from the log, so nothing is lost
// across reconnects, replicas or restarts. Per-queue counts are re-read once per tick, and only
// when an event arrived, whatever the number of clients.

const (
	// eventPage is how many events one backend read returns.
	eventPage = 1000
	// maxPagesPerTick bounds one tick's catch-up; the rest waits for the next tick.
	maxPagesPerTick = 10
	// maxBacklogPages bounds a reconnecting client's catch-up; older gaps get a reset event.
	maxBacklogPages = 10
	// clientBuffer is how many messages a client may fall behind before it is dropped (it then
	// reconnects and catches up from the log).
	clientBuffer = 256
	// maxClients bounds concurrent streams per dashboard.
	maxClients = 1000
	// retryMillis is the reconnect delay the stream asks browsers to use.
	retryMillis = 3000
	// writeTimeout bounds one write to a stream, so a stuck connection frees its handler.
	writeTimeout = 10 * time.Second
)

// message is one SSE event.
type message struct {
	id    string // the store's event cursor
	event string
	data  []byte
	queue string
}

type client struct {
	queue string
	ch    chan message
}

type hub struct {
	insp     *asyncmq.Inspector
	red      *redactor
	log      *slog.Logger
	interval time.Duration
	// onChange is told when a tick saw new events, so cached views can drop what they hold.
	onChange func()
	// heartbeat is the comment interval in nanoseconds; tests shorten it.
	heartbeat atomic.Int64

	// pollMu serialises polls with subscriptions, so a new client's starting cursor and the
	// events the hub delivers to it neither overlap nor leave a gap.
	pollMu sync.Mutex
	cursor string
	// live is true while cursor is current: the hub stops polling when nobody listens and
	// re-reads the newest cursor when the next client arrives.
	live bool
	// failing is set while polls fail, to log a failure streak once.
	failing bool
	// ticks counts ticks, so tests can wait for the hub instead of sleeping.
	ticks atomic.Int64

	mu      sync.Mutex
	clients map[*client]struct{}
	counts  *message
	closed  bool

	stop chan struct{}
	done chan struct{}
}

func newHub(insp *asyncmq.Inspector, red *redactor, interval time.Duration, log *slog.Logger, onChange func()) *hub {
	if onChange == nil {
		onChange = func() {}
	}
	h := &hub{
		insp: insp, red: red, log: log, interval: interval, onChange: onChange,
		clients: make(map[*client]struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	h.heartbeat.Store(int64(15 * time.Second))
	go h.run()
	return h
}

func (h *hub) run() {
	defer close(h.done)
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.tick()
	}
}

func (h *hub) clientCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// tick reads new events and, when there were any, the counts.
func (h *hub) tick() {
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	defer h.ticks.Add(1)
	if h.clientCount() == 0 {
		h.live = false
		h.mu.Lock()
		h.counts = nil
		h.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(h.interval*4, 5*time.Second))
	defer cancel()
	changed := false
	for range maxPagesPerTick {
		evs, err := h.insp.Events(ctx, asyncmqtype.EventsParams{After: h.cursor, Limit: eventPage})
		if err != nil {
			h.failed(err)
			return
		}
		for _, e := range evs {
			h.broadcast(h.eventMessage(e))
			h.cursor = e.Cursor
		}
		changed = changed || len(evs) > 0
		if len(evs) < eventPage {
			break
		}
	}
	if changed {
		h.onChange()
		m, err := h.countsMessage(ctx, h.cursor)
		if err != nil {
			h.failed(err)
			return
		}
		h.mu.Lock()
		h.counts = &m
		h.mu.Unlock()
		h.broadcast(m)
	}
	if h.failing {
		h.failing = false
		h.log.Info("dashboard live updates recovered")
	}
}

func (h *hub) failed(err error) {
	if !h.failing {
		h.failing = true
		h.log.Warn("dashboard live updates cannot read the backend", "err", err)
	}
}

// broadcast queues m for every client that wants it; a client whose buffer is full is dropped
// rather than blocking the hub.
func (h *hub) broadcast(m message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.queue != "" && m.queue != "" && c.queue != m.queue {
			continue
		}
		select {
		case c.ch <- m:
		default:
			delete(h.clients, c)
			close(c.ch)
		}
	}
}

var errHubClosed = errors.New("live updates are stopped")
var errTooManyClients = errors.New("too many live-update streams")

// subscribe registers a client and returns the cursor after which the hub will deliver events to
// it.
func (h *hub) subscribe(ctx context.Context, queue string) (*client, string, error) {
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	if !h.live {
		c, err := h.insp.LastEventCursor(ctx)
		if err != nil {
			return nil, "", err
		}
		h.cursor, h.live = c, true
	}
	c := &client{queue: queue, ch: make(chan message, clientBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, "", errHubClosed
	case len(h.clients) >= maxClients:
		return nil, "", errTooManyClients
	}
	h.clients[c] = struct{}{}
	return c, h.cursor, nil
}

func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.ch)
	}
}

// refreshCounts re-reads the counts after the dashboard changed something that writes no job
// event (pausing a queue, setting its rate limit) and sends them to every open page, so that
// the counts a page gets on connecting never restore a state the change replaced.
func (h *hub) refreshCounts(ctx context.Context) {
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	if h.clientCount() == 0 {
		h.mu.Lock()
		h.counts = nil
		h.mu.Unlock()
		return
	}
	m, err := h.countsMessage(ctx, h.cursor)
	if err != nil {
		h.mu.Lock()
		h.counts = nil
		h.mu.Unlock()
		return
	}
	h.mu.Lock()
	h.counts = &m
	h.mu.Unlock()
	h.broadcast(m)
}

// snapshot returns the latest counts message, reading it when the hub has none.
func (h *hub) snapshot(ctx context.Context, id string) (message, error) {
	h.mu.Lock()
	m := h.counts
	h.mu.Unlock()
	if m != nil {
		return *m, nil
	}
	return h.countsMessage(ctx, id)
}

func (h *hub) close() {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		close(c.ch)
	}
}

func (h *hub) eventMessage(e asyncmqtype.Event) message {
	name := "job"
	if e.Type == asyncmqtype.EventQueue {
		name = "queue"
	}
	b, _ := json.Marshal(h.red.event(e))
	return message{id: e.Cursor, event: name, data: b, queue: e.Queue}
}

type queueCounts struct {
	Name   string                    `json:"name"`
	Paused bool                      `json:"paused"`
	Counts map[asyncmqtype.State]int `json:"counts"`
	Total  int                       `json:"total"`
}

type countsPayload struct {
	Queues    []queueCounts             `json:"queues"`
	Totals    map[asyncmqtype.State]int `json:"totals"`
	TotalJobs int                       `json:"total_jobs"`
	Paused    int                       `json:"paused"`
}

func (h *hub) countsMessage(ctx context.Context, id string) (message, error) {
	qs, err := h.insp.Queues(ctx)
	if err != nil {
		return message{}, err
	}
	p := countsPayload{Queues: make([]queueCounts, 0, len(qs)), Totals: make(map[asyncmqtype.State]int)}
	for _, s := range asyncmqtype.States {
		p.Totals[s] = 0
	}
	for _, q := range qs {
		qc := queueCounts{Name: q.Name, Paused: q.Paused, Counts: make(map[asyncmqtype.State]int), Total: q.Total()}
		for _, s := range asyncmqtype.States {
			qc.Counts[s] = q.Counts[s]
			p.Totals[s] += q.Counts[s]
		}
		p.TotalJobs += qc.Total
		if q.Paused {
			p.Paused++
		}
		p.Queues = append(p.Queues, qc)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return message{}, fmt.Errorf("encode counts: %w", err)
	}
	return message{id: id, event: "counts", data: b}, nil
}

// maxCursorBytes bounds a resume cursor; every store's cursors are far shorter.
const maxCursorBytes = 128

// parseLastEventID reads the resume point from the Last-Event-ID header (sent by a reconnecting
// EventSource) or the lastEventId query parameter (sent by a page that knows the cursor it was
// rendered at). It returns "" when there is none. A cursor is the store's and opaque here; one
// that is too long or not printable ASCII is refused, and one the store does not recognise ends
// the replay with a reset.
func parseLastEventID(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		v = strings.TrimSpace(r.URL.Query().Get("lastEventId"))
	}
	if len(v) > maxCursorBytes {
		return "", badRequest("Last-Event-ID is longer than %d bytes.", maxCursorBytes)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] >= 0x7f {
			return "", badRequest("Last-Event-ID %q is not an event cursor.", truncate(40, v))
		}
	}
	return v, nil
}

// events serves the SSE stream: GET /events[?queue=name][&lastEventId=N]. The stream runs under
// admin.StreamContext, so it ends when its user signs out, is disabled or their token expires;
// it then sends a "signout" event, and the browser's reconnection meets the login gate.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := admin.StreamContext(r)
	defer cancel()
	resume, err := parseLastEventID(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	queue := strings.TrimSpace(r.URL.Query().Get("queue"))
	c, start, err := d.hub.subscribe(ctx, queue)
	if err != nil {
		if errors.Is(err, errHubClosed) || errors.Is(err, errTooManyClients) {
			err = &httpError{http.StatusServiceUnavailable, "Live updates are unavailable: " + err.Error()}
		}
		d.writeError(w, r, err)
		return
	}
	defer d.hub.unsubscribe(c)

	rc := http.NewResponseController(w)
	// The server's read and write timeouts bound ordinary requests; a stream is meant to stay
	// open. net/http clears the read deadline itself once the (empty) body is read, and
	// stream.raw replaces the server's write deadline with a fresh writeTimeout before every
	// frame, so neither ends a healthy stream while a stuck client is still cut off.
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Reverse proxies such as nginx buffer responses unless told not to.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, rc: rc}
	s.raw(fmt.Sprintf("retry: %d\n\n", retryMillis))

	if resume != "" && resume != start {
		if !d.backlog(ctx, s, queue, resume, start) {
			return
		}
	}
	snap, err := d.hub.snapshot(ctx, start)
	if err != nil {
		s.send(resetMessage(start, "backend unavailable"))
		return
	}
	s.send(snap)
	if s.err != nil {
		return
	}
	beat := time.NewTicker(time.Duration(d.hub.heartbeat.Load()))
	defer beat.Stop()
	for s.err == nil {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), admin.ErrSignedOut) {
				s.send(message{id: start, event: "signout", data: []byte(`{"reason":"signed out"}`)})
			}
			return
		case m, ok := <-c.ch:
			if !ok {
				return
			}
			s.send(m)
		case <-beat.C:
			s.raw(": ping\n\n")
		}
	}
}

// backlog replays the events a reconnecting client missed: those after the cursor after, up to
// and including the cursor upto where the hub's delivery starts. Cursors are opaque, so it reads
// every queue's events and stops at upto itself, filtering by queue here; a cursor the store does
// not know ends the replay with a reset. It returns false when the stream should end.
func (d *Dashboard) backlog(ctx context.Context, s *stream, queue string, after, upto string) bool {
	for range maxBacklogPages {
		evs, err := d.insp.Events(ctx, asyncmqtype.EventsParams{After: after, Limit: eventPage})
		if errors.Is(err, asyncmqtype.ErrInvalid) {
			s.send(resetMessage(upto, "unknown event cursor"))
			return s.err == nil
		}
		if err != nil {
			s.send(resetMessage(upto, "backend unavailable"))
			return false
		}
		for _, e := range evs {
			if queue == "" || e.Queue == queue {
				s.send(d.hub.eventMessage(e))
			}
			if e.Cursor == upto {
				return s.err == nil
			}
			after = e.Cursor
		}
		if len(evs) < eventPage || s.err != nil {
			return s.err == nil
		}
	}
	// Too far behind to replay: tell the page to reload its data instead.
	s.send(resetMessage(upto, "too far behind"))
	return s.err == nil
}

// resetMessage tells the page to reload its data, since the stream cannot bring it up to date;
// reason is a fixed phrase that needs no JSON escaping.
func resetMessage(id string, reason string) message {
	return message{id: id, event: "reset", data: []byte(`{"reason":"` + reason + `"}`)}
}

// stream writes SSE frames and remembers the first write error.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func (s *stream) raw(frame string) {
	if s.err != nil {
		return
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.w.Write([]byte(frame)); err != nil {
		s.err = err
		return
	}
	s.err = s.rc.Flush()
}

func (s *stream) send(m message) {
	var b strings.Builder
	b.WriteString("id: ")
	b.WriteString(m.id)
	b.WriteString("\nevent: ")
	b.WriteString(m.event)
	// JSON has no raw newlines, so the payload is one data line.
	b.WriteString("\ndata: ")
	b.Write(m.data)
	b.WriteString("\n\n")
	s.raw(b.String())
}

// eventHistoryData backs the runtime events page: the newest events of the backend's log.
type eventHistoryData struct {
	// RowsHTML is the events shown, rendered (see writeEventRows).
	RowsHTML template.HTML
	Type     string
	Queue    string
	Text     string
	Limit    int
	Types    []asyncmqtype.EventType
}

var eventTypes = []asyncmqtype.EventType{
	asyncmqtype.EventEnqueued, asyncmqtype.EventStarted, asyncmqtype.EventCompleted, asyncmqtype.EventRetrying,
	asyncmqtype.EventFailed, asyncmqtype.EventCancelled, asyncmqtype.EventStalled, asyncmqtype.EventRemoved,
	asyncmqtype.EventProgress, asyncmqtype.EventQueue,
}

func (d *Dashboard) eventHistory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	data := eventHistoryData{Type: q.Get("event"), Queue: strings.TrimSpace(q.Get("queue")),
		Text: strings.TrimSpace(q.Get("q")), Limit: 200, Types: eventTypes}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil {
		data.Limit = min(max(n, 1), eventPage)
	}
	if err := checkFilters("event", data.Type, "queue", data.Queue, "q", data.Text); err != nil {
		return err
	}
	if data.Type != "" && !slices.Contains(eventTypes, asyncmqtype.EventType(data.Type)) {
		return badRequest("Unknown event type %q.", data.Type)
	}
	snap, err := d.eventsCache.get(r.Context())
	if err != nil {
		return err
	}
	data.RowsHTML = snap.rows(admin.BasePath(r), data)
	return d.render(w, r, http.StatusOK, "events", d.newPage(w, r, "Events", "events", data))
}

// eventsSnapshot is the newest events, read once for every viewer of the event history for up
// to overviewTTL, or until the hub sees new ones; the unfiltered rows are rendered once per
// mount path and limit, since that is what nearly every view shows.
type eventsSnapshot struct {
	events []eventView

	mu     sync.Mutex
	bodies map[eventsBodyKey]template.HTML
}

type eventsBodyKey struct {
	base  string
	limit int
}

// loadEvents reads the newest eventPage events, the most the history shows.
func (d *Dashboard) loadEvents(ctx context.Context) (*eventsSnapshot, error) {
	evs, err := d.recent(ctx, eventPage)
	if err != nil {
		return nil, err
	}
	return &eventsSnapshot{events: evs, bodies: make(map[eventsBodyKey]template.HTML)}, nil
}

// rows renders the rows the history shows for data's filters: those of the newest data.Limit
// events that match.
func (s *eventsSnapshot) rows(base string, data eventHistoryData) template.HTML {
	evs := s.events[:min(data.Limit, len(s.events))]
	filtered := data.Type != "" || data.Queue != "" || data.Text != ""
	key := eventsBodyKey{base, data.Limit}
	if !filtered {
		s.mu.Lock()
		defer s.mu.Unlock()
		if b, ok := s.bodies[key]; ok {
			return b
		}
	}
	shown := evs
	if filtered {
		needle := strings.ToLower(data.Text)
		shown = make([]eventView, 0, len(evs))
		for _, e := range evs {
			if data.Type != "" && e.Type != data.Type || data.Queue != "" && e.Queue != data.Queue {
				continue
			}
			if needle != "" && !strings.Contains(strings.ToLower(e.JobID+" "+e.Task+" "+e.Detail+" "+e.Queue), needle) {
				continue
			}
			shown = append(shown, e)
		}
	}
	var w htmlWriter
	writeEventRows(&w, eventRows(base, shown))
	b := template.HTML(w.String())
	if !filtered && len(s.bodies) < maxSnapshotBodies {
		s.bodies[key] = b
	}
	return b
}
