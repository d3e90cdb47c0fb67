package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/jackc/pgx/v5"
)

// TestLargeQueueListing checks the paths a queue of 10,000 jobs or more takes (cached counts,
// deep pages from an anchor) against plain SQL: the same total, and the same jobs as OFFSET
// gives, newest and oldest first, twice (the second time from the cached anchor), and an empty
// page past the end.
func TestLargeQueueListing(t *testing.T) {
	t.Parallel()
	u := pooledSchema(t)
	b := open(t, u)
	ctx := context.Background()
	const n = 12_000
	now := time.Now()
	for done := 0; done < n; done += 2_000 {
		jobs := make([]*asyncmqtype.JobInfo, 0, 2_000)
		for i := done; i < done+2_000; i++ {
			jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("j%05d", i), Queue: "big", Task: "t"})
		}
		if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: now.Add(time.Duration(done) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	dsn, err := postgres.SQLDSN(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for range 2 {
		q, err := b.Queue(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if q.Counts[asyncmqtype.StateWaiting] != n {
			t.Fatalf("Queue counts %v, want %d waiting", q.Counts, n)
		}
		for _, sort := range []asyncmqtype.Sort{asyncmqtype.SortNewest, asyncmqtype.SortOldest} {
			dir := ""
			if sort == asyncmqtype.SortNewest {
				dir = " DESC"
			}
			for _, offset := range []int{0, 5_000, n - 7} {
				rows, err := conn.Query(ctx, `SELECT id FROM asyncmq_jobs WHERE queue = 'big' AND state = 'waiting'
ORDER BY created_at`+dir+`, id`+dir+` LIMIT 20 OFFSET $1`, offset)
				if err != nil {
					t.Fatal(err)
				}
				want, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				page, err := b.ListJobs(ctx, asyncmqtype.ListJobsParams{
					Filter: asyncmqtype.JobFilter{Queue: "big", State: asyncmqtype.StateWaiting}, Sort: sort, Offset: offset, Limit: 20})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, j := range page.Jobs {
					got = append(got, j.ID)
				}
				if page.Total != n || !slices.Equal(got, want) {
					t.Errorf("%s offset %d: Total %d, jobs %v; want %d, %v", sort, offset, page.Total, got, n, want)
				}
			}
			page, err := b.ListJobs(ctx, asyncmqtype.ListJobsParams{
				Filter: asyncmqtype.JobFilter{Queue: "big", State: asyncmqtype.StateWaiting}, Sort: sort, Offset: n, Limit: 20})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != n || len(page.Jobs) != 0 {
				t.Errorf("%s past the end: Total %d, %d jobs; want %d, none", sort, page.Total, len(page.Jobs), n)
			}
		}
	}
}
