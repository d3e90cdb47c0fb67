package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

const (
	healthPath = "/health"
	readyPath  = "/ready"
	healthBody = `{"status":"ok","service":"asyncmq-dashboard"}`
)

// serveHealth answers liveness probes without touching anything: the process serves HTTP.
func serveHealth(w http.ResponseWriter, r *http.Request) {
	if !probeMethod(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, healthBody)
}

// serveReady reports whether the backend answers, through Config.Ready.
func (a *Admin) serveReady(w http.ResponseWriter, r *http.Request) {
	if !probeMethod(w, r) {
		return
	}
	if a.ready == nil {
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := a.ready(ctx); err != nil {
		// The message may carry a DSN or a host name; the log gets it, the probe the class.
		a.log.WarnContext(r.Context(), "admin: readiness check failed", "err", err)
		b, _ := json.Marshal(struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}{"error", errorClass(err)})
		writeJSON(w, http.StatusServiceUnavailable, string(b))
		return
	}
	writeJSON(w, http.StatusOK, `{"status":"ok"}`)
}

func probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeText(w, http.StatusMethodNotAllowed, "Method not allowed")
	return false
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// errorClass names the kind of error without its message, which may hold secrets: "timeout",
// "canceled", or the Go type of the most specific error in the chain ("net.OpError"), skipping
// the generic wrappers that say nothing.
func errorClass(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	class := "error"
	for e := err; e != nil; e = errors.Unwrap(e) {
		t := strings.TrimPrefix(fmt.Sprintf("%T", e), "*")
		switch t {
		case "fmt.wrapError", "fmt.wrapErrors", "errors.errorString", "errors.joinError":
			continue
		}
		class = t
	}
	return class
}
