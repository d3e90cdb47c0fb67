package main

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServeProxyAuth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.serve("--auth", "proxy", "--workers", "0", "--trusted-proxies", "127.0.0.1")

	tests := []struct {
		name       string
		headers    map[string]string
		wantStatus int
	}{
		{name: "viewer from the trusted proxy", headers: map[string]string{"X-Authenticated-User": "alice", "X-Authenticated-Roles": "viewer"}, wantStatus: http.StatusOK},
		{name: "user without a dashboard role", headers: map[string]string{"X-Authenticated-User": "bob", "X-Authenticated-Roles": "sales"}, wantStatus: http.StatusForbidden},
		{name: "no identity header", wantStatus: http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, s.url+"/asyncmq/", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("GET = %d, want %d", res.StatusCode, tt.wantStatus)
			}
		})
	}
}

// TestServeProxyAdminHeaderOnlyWhenConfigured reproduces issue 11 item 1: serve read
// X-Authenticated-Admin whatever the header flags said, so behind an oauth2-proxy that sets only
// its own headers a client's "X-Authenticated-Admin: true" made any user an admin.
func TestServeProxyAdminHeaderOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	oauth2Proxy := []string{"--auth", "proxy", "--workers", "0", "--trusted-proxies", "127.0.0.1",
		"--proxy-header", "X-Forwarded-User", "--proxy-groups-header", "X-Forwarded-Groups", "--roles=false"}
	tests := []struct {
		name       string
		flags      []string
		env        map[string]string
		headers    map[string]string
		wantStatus int
	}{
		{name: "client admin flag through oauth2-proxy", flags: oauth2Proxy,
			headers:    map[string]string{"X-Forwarded-User": "mallory", "X-Authenticated-Admin": "true"},
			wantStatus: http.StatusSeeOther},
		{name: "admin group still works", flags: oauth2Proxy,
			headers:    map[string]string{"X-Forwarded-User": "ann", "X-Forwarded-Groups": "admin"},
			wantStatus: http.StatusOK},
		{name: "configured admin header", flags: append(oauth2Proxy, "--proxy-admin-header", "X-Proxy-Admin"),
			headers:    map[string]string{"X-Forwarded-User": "ann", "X-Proxy-Admin": "true"},
			wantStatus: http.StatusOK},
		{name: "configured through the environment", flags: oauth2Proxy,
			env:        map[string]string{"ASYNCMQ_PROXY_ADMIN_HEADER": "X-Authenticated-Admin"},
			headers:    map[string]string{"X-Forwarded-User": "ann", "X-Authenticated-Admin": "true"},
			wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			maps.Copy(f.env, tt.env)
			s := f.serve(tt.flags...)
			req, _ := http.NewRequest(http.MethodGet, s.url+"/asyncmq/", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("GET = %d, want %d", res.StatusCode, tt.wantStatus)
			}
		})
	}
}

func TestServePasswordAuth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("users", "add", "olga", "--role", "operator")
	if r := f.runIn("a long enough password\n", "users", "set-password", "olga"); r.code != 0 {
		t.Fatalf("set-password: %s", r.stderr)
	}
	s := f.serve("--auth", "password", "--workers", "0")

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: noRedirect.CheckRedirect}
	post := func(pw string) *http.Response {
		form := url.Values{"username": {"olga"}, "password": {pw}}
		req, _ := http.NewRequest(http.MethodPost, s.url+"/asyncmq/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.url)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post("wrong password!"); res.StatusCode == http.StatusSeeOther {
		t.Fatal("a wrong password signed in")
	}
	if res := post("a long enough password"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", res.StatusCode)
	}
	res, err := c.Get(s.url + "/asyncmq/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("signed-in GET = %d, want 200", res.StatusCode)
	}

	// The session lives in the queue's SQLite file, and the user is re-read on every request.
	f.mustRun("users", "disable", "olga")
	res, err = c.Get(s.url + "/asyncmq/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET after disable = %d, want 303", res.StatusCode)
	}
}

// TestServeShutdownEndsLiveStreams checks that an open live-update stream (a browser tab left on
// the dashboard) does not hold a shutdown to its timeout.
func TestServeShutdownEndsLiveStreams(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.serve("--auth", "none", "--workers", "0")
	res, err := http.Get(s.url + "/asyncmq/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /asyncmq/events = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	start := time.Now()
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.errOut.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown with an open event stream took %s", d)
	}
	if strings.Contains(s.errOut.String(), "HTTP shutdown incomplete") {
		t.Fatalf("shutdown timed out:\n%s", s.errOut.String())
	}
}

// TestServeRefusesForeignHost reproduces issue 11 item 2: with --auth none on 127.0.0.1, a page on
// attacker.example that rebinds its name to 127.0.0.1 sends "Host: attacker.example:PORT" and a
// matching Origin; it could read pages and obliterate queues.
func TestServeRefusesForeignHost(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("enqueue", "send_email", "{}", "--queue", "emails")
	s := f.serve("--auth", "none", "--workers", "0")
	port := s.url[strings.LastIndexByte(s.url, ':')+1:]

	do := func(method, path, host string) *http.Response {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader("action=obliterate&force=on&confirm=yes")
		}
		req, _ := http.NewRequest(method, s.url+path, body)
		req.Host = host
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "http://"+host)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := do(http.MethodGet, "/asyncmq/queues", "attacker.example:"+port); res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("rebound GET = %d, want 421", res.StatusCode)
	}
	if res := do(http.MethodPost, "/asyncmq/queues/emails", "attacker.example:"+port); res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("rebound POST = %d, want 421", res.StatusCode)
	}
	if out := f.mustRun("queue", "list"); !strings.Contains(out, "emails") {
		t.Fatalf("the queue is gone after a rebound POST:\n%s", out)
	}
	if res := do(http.MethodGet, "/asyncmq/health", "10.1.2.3:"+port); res.StatusCode != http.StatusOK {
		t.Errorf("probe with a pod IP as Host = %d, want 200", res.StatusCode)
	}
	if res := do(http.MethodGet, "/asyncmq/queues", "localhost:"+port); res.StatusCode != http.StatusOK {
		t.Errorf("GET via localhost = %d, want 200", res.StatusCode)
	}

	listed := f.serve("--auth", "none", "--workers", "0", "--allowed-hosts", "ops.example")
	req, _ := http.NewRequest(http.MethodGet, listed.url+"/asyncmq/queues", nil)
	req.Host = "ops.example"
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET with a listed host = %d, want 200", res.StatusCode)
	}
}

// TestServePasswordThrottleBehindProxy reproduces issue 11 item 3: with --trusted-proxies every
// sign-in shared the proxy's throttle bucket, so 20 bad attempts from one client made the
// admin's correct sign-in answer 429.
func TestServePasswordThrottleBehindProxy(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustRun("users", "add", "olga", "--role", "operator")
	if r := f.runIn("a long enough password\n", "users", "set-password", "olga"); r.code != 0 {
		t.Fatalf("set-password: %s", r.stderr)
	}
	s := f.serve("--auth", "password", "--workers", "0", "--trusted-proxies", "127.0.0.1")
	// The 20 sign-ins the throttle lets through each hash a password, at most GOMAXPROCS at a
	// time: under -race on a busy 2-core machine the last ones wait longer than noRedirect's 10s.
	httpClient := &http.Client{CheckRedirect: noRedirect.CheckRedirect, Timeout: 2 * time.Minute}
	post := func(user, pw, client string) int {
		form := url.Values{"username": {user}, "password": {pw}}
		req, _ := http.NewRequest(http.MethodPost, s.url+"/asyncmq/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.url)
		// The client forges the left part; the proxy (this test, on 127.0.0.1) appends the truth.
		req.Header.Set("X-Forwarded-For", "10.9.9.9, "+client)
		res, err := httpClient.Do(req)
		if err != nil {
			t.Error(err) // called from several goroutines: no Fatal
			return 0
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// Sent at once, so that the client's bucket (20, then one per 10s) is drained however slowly
	// each password check runs; the throttle answers before any hashing.
	codes := make(chan int, 30)
	var wg sync.WaitGroup
	for i := range cap(codes) {
		wg.Go(func() { codes <- post(fmt.Sprintf("guess%d", i), "wrong", "203.0.113.66") })
	}
	wg.Wait()
	close(codes)
	throttled := 0
	for c := range codes {
		if c == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("30 bad sign-ins from one client were never throttled")
	}
	if code := post("olga", "a long enough password", "192.0.2.7"); code != http.StatusSeeOther {
		t.Fatalf("another client's correct sign-in through the same proxy = %d, want 303", code)
	}
}

// TestServeCutsOffSlowBodies reproduces issue 11 item 6: the server set no ReadTimeout, so an
// anonymous client that sent a POST's headers and then trickled (or withheld) its body held the
// connection for as long as it liked.
func TestServeCutsOffSlowBodies(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.serve("--auth", "password", "--workers", "0", "--read-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /asyncmq/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nusername=a")
	// The test's own deadline is the failure case: a server without a read timeout keeps waiting.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still held a stalled POST after %s", time.Since(start))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the stalled POST was cut off only after %s", d)
	}
}

// TestServeLiveStreamOutlivesDeadlines checks the other half of item 6: the read and write
// timeouts must not end a live-update stream, which lifts them for itself.
func TestServeLiveStreamOutlivesDeadlines(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.serve("--auth", "none", "--workers", "0", "--read-timeout", "200ms", "--write-timeout", "200ms")
	res, err := http.Get(s.url + "/asyncmq/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /asyncmq/events = %d", res.StatusCode)
	}
	frames := make(chan string, 16)
	go func() {
		defer close(frames)
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			if n > 0 {
				frames <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	// Outlast both deadlines: this wait is the point of the test, not a synchronisation.
	time.Sleep(600 * time.Millisecond)
	f.mustRun("enqueue", "send_email", "{}", "--queue", "emails")
	timeout := time.After(10 * time.Second)
	for {
		select {
		case fr, ok := <-frames:
			if !ok {
				t.Fatal("the stream ended once the server's deadlines passed")
			}
			if strings.Contains(fr, "event: job") {
				return
			}
		case <-timeout:
			t.Fatal("no job event arrived on the stream")
		}
	}
}

// openStream opens the live-update stream with the given cookies or bearer token and returns a
// channel that is closed when the server ends it.
func openStream(t *testing.T, url string, jar http.CookieJar, token string) <-chan struct{} {
	t.Helper()
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest(http.MethodGet, url+"/asyncmq/events", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		t.Fatalf("GET /asyncmq/events = %d", res.StatusCode)
	}
	t.Cleanup(func() { res.Body.Close() })
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		io.Copy(io.Discard, res.Body)
	}()
	return ended
}

func waitEnded(t *testing.T, ended <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the live-update stream was still open 10s after %s", what)
	}
}

// TestServeStreamsEndWithTheirUser reproduces issue 11 item 4: an open /events stream kept
// delivering jobs after logout, after "users disable" and after the JWT's exp.
func TestServeStreamsEndWithTheirUser(t *testing.T) {
	t.Parallel()
	signIn := func(t *testing.T, f *fixture, flags ...string) (*server, http.CookieJar) {
		t.Helper()
		f.mustRun("users", "add", "olga", "--role", "operator")
		if r := f.runIn("a long enough password\n", "users", "set-password", "olga"); r.code != 0 {
			t.Fatalf("set-password: %s", r.stderr)
		}
		s := f.serve(append([]string{"--auth", "password", "--workers", "0"}, flags...)...)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: noRedirect.CheckRedirect}
		form := url.Values{"username": {"olga"}, "password": {"a long enough password"}}
		req, _ := http.NewRequest(http.MethodPost, s.url+"/asyncmq/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.url)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", res.StatusCode)
		}
		return s, jar
	}
	t.Run("logout", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		// A re-check interval far beyond the test: only the sign-out itself can end the stream.
		s, jar := signIn(t, f, "--stream-recheck", "1h")
		ended := openStream(t, s.url, jar, "")
		req, _ := http.NewRequest(http.MethodPost, s.url+"/asyncmq/logout", nil)
		req.Header.Set("Origin", s.url)
		res, err := (&http.Client{Jar: jar, CheckRedirect: noRedirect.CheckRedirect}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		waitEnded(t, ended, "logout")
	})
	t.Run("users disable", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		s, jar := signIn(t, f, "--stream-recheck", "100ms")
		ended := openStream(t, s.url, jar, "")
		f.mustRun("users", "disable", "olga")
		waitEnded(t, ended, "users disable")
	})
	t.Run("token expiry", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.env["ASYNCMQ_JWT_SECRET"] = testSecret
		s := f.serve("--workers", "0", "--stream-recheck", "1h")
		tok := strings.TrimSpace(f.mustRun("token", "issue", "--sub", "alice", "--role", "viewer", "--ttl", "2s", "--raw"))
		ended := openStream(t, s.url, nil, tok)
		waitEnded(t, ended, "the token expired")
	})
}
