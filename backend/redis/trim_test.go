package redis

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/internal/redistest"
)

// The trim that ends a plain enqueue cuts from the event counter as it is when the trim runs:
// another writer may have cut the stream since the transaction read the counter, and cutting
// again from the older reading would take the stream far below its bound.
func TestPlainTrimReadsTheCounterNow(t *testing.T) {
	url := os.Getenv("ASYNCMQ_TEST_REDIS")
	if url == "" {
		t.Skip("ASYNCMQ_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "amqtest-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { redistest.DeletePrefix(url, prefix) })
	s, err := Open(t.Context(), url+"?prefix="+prefix+"&events=100")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	plain := func(n, from int) {
		t.Helper()
		var jobs []*asyncmqtype.JobInfo
		for i := range n {
			jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("j%04d", from+i), Queue: "tq", Task: "t", RunAt: now, CreatedAt: now})
		}
		if err := s.Enqueue(t.Context(), backend.EnqueueParams{Jobs: jobs, Now: now, FreshIDs: true}); err != nil {
			t.Fatal(err)
		}
	}
	// 105 events of an entry each (one job per call through the script): within 10% of the
	// bound, so nothing is cut yet.
	for i := range 105 {
		j := &asyncmqtype.JobInfo{ID: fmt.Sprintf("s%04d", i), Queue: "tq", Task: "t"}
		if err := s.Enqueue(t.Context(), backend.EnqueueParams{Jobs: []*asyncmqtype.JobInfo{j}}); err != nil {
			t.Fatal(err)
		}
	}
	// Another writer trims the stream between the next transaction and its own trim.
	afterPlainTx = func() {
		if _, err := s.eval(t.Context(), s.queueCall(scriptTrim, "tq", time.Time{}, nil, "0", 40, 1)); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { afterPlainTx = nil })
	plain(40, 100)
	evs, err := s.Events(t.Context(), asyncmqtype.EventsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 100 {
		t.Fatalf("the stream holds %d events, want at least its bound of 100 (events=100)", len(evs))
	}
}
