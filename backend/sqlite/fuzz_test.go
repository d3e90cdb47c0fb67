package sqlite

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
)

// asciiLower folds ASCII letters only, as SQLite's LIKE does.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// FuzzListJobsFilter feeds search text, as typed into the dashboard, to the Task, ID and Text
// filters: the result must be exactly the jobs that contain it, and never an error.
func FuzzListJobsFilter(f *testing.F) {
	for _, seed := range []string{"100%", "_", `\`, `%_\`, "été", "ÉTÉ", "[a", "", "mixed", "Job-1"} {
		f.Add(seed)
	}
	// One store for every input of the run: opening a store per input would dominate it.
	b, err := Open(f.Context(), FreshDB(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	var jobs []*asyncmqtype.JobInfo
	for i, x := range []string{"100%", "x_y", `back\slash`, "ÄÖü ÉTÉ", "[abc]*?", "café", "", `%_\`, "MiXeD Case"} {
		j := newJob(fmt.Sprintf("Job-%d_%s", i, x), "q")
		j.Task = "task." + x
		j.Payload = []byte(fmt.Sprintf(`{"v":%q}`, x))
		jobs = append(jobs, j)
	}
	if err := b.Enqueue(f.Context(), backend.EnqueueParams{Jobs: jobs, Now: t0}); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, needle string) {
		if !utf8.ValidString(needle) {
			t.Skip("search text arrives as UTF-8 form values")
		}
		fold := asciiLower(needle)
		for _, tt := range []struct {
			filter asyncmqtype.JobFilter
			keep   func(*asyncmqtype.JobInfo) bool
		}{
			{asyncmqtype.JobFilter{Task: needle}, func(j *asyncmqtype.JobInfo) bool { return strings.Contains(asciiLower(j.Task), fold) }},
			{asyncmqtype.JobFilter{Text: needle}, func(j *asyncmqtype.JobInfo) bool { return strings.Contains(asciiLower(string(j.Payload)), fold) }},
			{asyncmqtype.JobFilter{ID: needle}, func(j *asyncmqtype.JobInfo) bool { return strings.Contains(j.ID, needle) }},
		} {
			tt.filter.Queue, tt.filter.State = "q", asyncmqtype.StateWaiting
			page, err := b.ListJobs(t.Context(), asyncmqtype.ListJobsParams{Filter: tt.filter, Limit: 100})
			if err != nil {
				t.Fatalf("filter %+v: %v", tt.filter, err)
			}
			var got, want []string
			for _, j := range page.Jobs {
				got = append(got, j.ID)
			}
			for _, j := range jobs {
				if tt.keep(j) {
					want = append(want, j.ID)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) || page.Total != len(want) {
				t.Fatalf("filter %+v: got %v (total %d), want %v", tt.filter, got, page.Total, want)
			}
		}
	})
}
