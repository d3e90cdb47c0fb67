package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestServeMetricsAddr checks that --metrics-addr serves the Prometheus exposition without
// authentication while the dashboard itself still asks for a token.
func TestServeMetricsAddr(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.env["ASYNCMQ_JWT_SECRET"] = testSecret
	f.mustRun("enqueue", "t", "--queue", "scraped")

	ctx, cancel := context.WithCancel(context.Background())
	a := newApp(strings.NewReader(""), &syncBuffer{}, &syncBuffer{}, f.getenv)
	addr, maddr := make(chan net.Addr, 1), make(chan net.Addr, 1)
	a.onListen = func(ad net.Addr) { addr <- ad }
	a.onMetricsListen = func(ad net.Addr) { maddr <- ad }
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, a, []string{"--backend", f.backendURL, "serve", "--addr", "127.0.0.1:0", "--workers", "0", "--metrics-addr", "127.0.0.1:0"})
	}()
	// exitCode is set when the loop below already received serve's exit, so the cleanup does not
	// wait for a second value that never comes.
	exitCode := -1
	t.Cleanup(func() {
		cancel()
		if exitCode < 0 {
			<-done
		}
	})
	var dash, metrics string
	for dash == "" || metrics == "" {
		select {
		case ad := <-addr:
			dash = "http://" + ad.String()
		case ad := <-maddr:
			metrics = "http://" + ad.String()
		case c := <-done:
			exitCode = c
			t.Fatalf("serve exited with %d", c)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not listen within 30s")
		}
	}
	res, body := get(t, metrics+"/metrics", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `asyncmq_queue_jobs{queue="scraped",state="waiting"} 1`) {
		t.Fatalf("GET --metrics-addr /metrics = %d:\n%s", res.StatusCode, body)
	}
	if problems, err := promlint.New(strings.NewReader(body)).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
	if res, _ := get(t, dash+"/asyncmq/metrics/prometheus", ""); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the dashboard's own metrics answered %d without a token, want 303 to login", res.StatusCode)
	}
	if res, _ := get(t, metrics+"/asyncmq/", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics listener serves %d for the dashboard, want 404", res.StatusCode)
	}
}
