package dashboard

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/backend/memory"
)

// BenchmarkJobListPage renders the jobs page of a 1,000,000-job queue at the first, a middle and
// the last page. The backend does the paging, so the three should cost the same: compare them
// with each other, not with absolute numbers, on a shared machine.
func BenchmarkJobListPage(b *testing.B) {
	mem := memory.New()
	b.Cleanup(func() { mem.Close() })
	d, err := New(asyncmq.NewInspector(&bigQueue{Backend: mem, total: 1_000_000}), Config{Logger: quietLogger(), EventPollInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.Close)
	for _, page := range []string{"1", "5000", "50000"} {
		b.Run("page="+page, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/queues/big/jobs?page="+page, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				d.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
