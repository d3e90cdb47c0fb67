// Package loadtest is a small HTTP load generator: a number of concurrent clients, each on its
// own connection, send GET requests to one URL for a bounded time or request count, and the
// recorded latencies give percentiles and throughput. The dashboard's load benchmark uses it
// against the in-process stack of internal/e2e.
//
// The benchmark (1,000,000 jobs in SQLite, JWT auth, 50 clients, goal p99 under 50ms for the
// overview and jobs page 5,000) runs on demand:
//
//	ASYNCMQ_LOADTEST_DB=/tmp/asyncmq-load-1m.db ASYNCMQ_LOADTEST_PROFILE=/tmp \
//	go test -run '^$' -bench DashboardLoadMillion ./internal/loadtest
//
// The first run builds the fixture in ASYNCMQ_LOADTEST_DB (about half a minute); later runs
// reuse it. ASYNCMQ_LOADTEST_BACKEND=redis://127.0.0.1:6379/13 (or a postgres:// URL) runs it
// on that store instead, reusing the fixture the same way. Each page's CPU profile lands in ASYNCMQ_LOADTEST_PROFILE; read it with
// go tool pprof. A small version (10,000 jobs, 10 clients) runs with
// the other tests to keep the harness working.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures Run. URL and at least one of Duration and Requests are required.
type Config struct {
	// URL is fetched with GET by every client.
	URL string
	// Clients is the number of concurrent clients; each sends its next request when the
	// previous response has been read, on a keep-alive connection of its own. Default 1.
	Clients int
	// Duration ends the run: no request starts after it, and requests under way finish.
	// Zero means no time bound.
	Duration time.Duration
	// Requests ends the run once this many requests have been sent in all. Zero means no count
	// bound.
	Requests int
	// Header returns the headers of the requests of client i (0 ≤ i < Clients), such as its own
	// bearer token. It is called once per client. Nil sends no extra headers.
	Header func(client int) http.Header
	// WantStatus is the status a response must have to count as a success. Default 200.
	WantStatus int
	// Timeout bounds one request, body included. Default 10s.
	Timeout time.Duration
}

// Result is what a run measured. Latencies are from sending the request to reading the last
// byte of the body, for every response, successful or not; requests that failed without a
// response count only as errors.
type Result struct {
	// Requests is the number of responses received.
	Requests int
	// Errors counts responses with a status other than Config.WantStatus and requests that got
	// no response.
	Errors int
	// FirstError describes the first error, nil when there was none.
	FirstError error
	// Status counts the responses by status code.
	Status map[int]int
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// P50, P90 and P99 are latency percentiles (nearest rank); Max the slowest response.
	P50, P90, P99, Max time.Duration
	// RPS is Requests per second of Elapsed.
	RPS float64
}

// String formats the result on one line, for logs and reports.
func (r Result) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("%d requests in %.1fs (%.0f req/s), p50 %s, p90 %s, p99 %s, max %s, %d errors",
		r.Requests, r.Elapsed.Seconds(), r.RPS, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors)
}

// Run sends the load cfg describes and returns what it measured. It returns an error only for
// a bad Config or when ctx ends the run early; failed requests are counted in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.URL == "" {
		return Result{}, errors.New("loadtest: Config.URL is required")
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return Result{}, errors.New("loadtest: set Config.Duration, Config.Requests or both to bound the run")
	}
	if cfg.Duration < 0 || cfg.Requests < 0 || cfg.Clients < 0 || cfg.Timeout < 0 {
		return Result{}, errors.New("loadtest: Config.Duration, Requests, Clients and Timeout must not be negative")
	}
	if cfg.Clients == 0 {
		cfg.Clients = 1
	}
	if cfg.WantStatus == 0 {
		cfg.WantStatus = http.StatusOK
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	// A malformed URL is reported once, here, rather than as an error per request.
	if _, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL, nil); err != nil {
		return Result{}, fmt.Errorf("loadtest: Config.URL: %w", err)
	}

	var sent atomic.Int64
	start := time.Now()
	deadline := time.Time{}
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	more := func() bool {
		if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return false
		}
		return cfg.Requests == 0 || sent.Add(1) <= int64(cfg.Requests)
	}

	clients := make([]*client, cfg.Clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := newClient(cfg, i)
		clients[i] = c
		wg.Go(func() {
			defer c.http.CloseIdleConnections()
			for more() {
				c.do(ctx)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("loadtest: run against %s: %w", cfg.URL, err)
	}
	return summarize(clients, elapsed), nil
}

// client is one simulated user: its own connection, headers and record.
type client struct {
	url    string
	want   int
	header http.Header
	http   *http.Client

	latencies []time.Duration
	status    map[int]int
	errors    int
	firstErr  error
	firstAt   time.Time
}

func newClient(cfg Config, i int) *client {
	c := &client{
		url:    cfg.URL,
		want:   cfg.WantStatus,
		status: make(map[int]int),
		http: &http.Client{
			Timeout: cfg.Timeout,
			// One connection per client, kept alive, so that N clients are N connections as
			// N browsers would be.
			Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true},
			// A redirect is an answer to measure (such as the login redirect), not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if cfg.Header != nil {
		c.header = cfg.Header(i)
	}
	return c
}

func (c *client) do(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		c.fail(err)
		return
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.fail(fmt.Errorf("GET %s: %w", c.url, err))
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		c.fail(fmt.Errorf("GET %s: read body: %w", c.url, err))
		return
	}
	c.latencies = append(c.latencies, time.Since(t0))
	c.status[resp.StatusCode]++
	if resp.StatusCode != c.want {
		c.fail(fmt.Errorf("GET %s: status %d, want %d", c.url, resp.StatusCode, c.want))
	}
}

func (c *client) fail(err error) {
	c.errors++
	if c.firstErr == nil {
		c.firstErr, c.firstAt = err, time.Now()
	}
}

func summarize(clients []*client, elapsed time.Duration) Result {
	r := Result{Status: make(map[int]int), Elapsed: elapsed}
	var all []time.Duration
	var firstAt time.Time
	for _, c := range clients {
		all = append(all, c.latencies...)
		for code, n := range c.status {
			r.Status[code] += n
		}
		r.Errors += c.errors
		if c.firstErr != nil && (r.FirstError == nil || c.firstAt.Before(firstAt)) {
			r.FirstError, firstAt = c.firstErr, c.firstAt
		}
	}
	slices.Sort(all)
	r.Requests = len(all)
	r.P50, r.P90, r.P99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)
	if len(all) > 0 {
		r.Max = all[len(all)-1]
	}
	if elapsed > 0 {
		r.RPS = float64(r.Requests) / elapsed.Seconds()
	}
	return r
}

// percentile returns the nearest-rank p-th percentile of sorted latencies: the smallest value
// that at least p percent of them do not exceed. It is 0 for no latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
