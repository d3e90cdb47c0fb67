package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
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
	conn := schemaConn(t, u)

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

// TestLargeQueueRefresh checks that a large queue's cached counts and deep-page anchors are
// refreshed in the background once stale: after more jobs arrive, Queue, the listing's total
// and a deep page (which the new jobs shift, newest first) catch up with plain SQL within
// CountsLag, while every answer meanwhile is either the old state or the new one.
func TestLargeQueueRefresh(t *testing.T) {
	t.Parallel()
	u := pooledSchema(t)
	b := open(t, u)
	ctx := context.Background()
	const n, more, offset = 12_000, 7, 5_000
	now := time.Now()
	enqueue := func(from, to int, at time.Time) {
		t.Helper()
		jobs := make([]*asyncmqtype.JobInfo, 0, to-from)
		for i := from; i < to; i++ {
			jobs = append(jobs, &asyncmqtype.JobInfo{ID: fmt.Sprintf("j%05d", i), Queue: "big", Task: "t"})
		}
		if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs, Now: at}); err != nil {
			t.Fatal(err)
		}
	}
	for done := 0; done < n; done += 3_000 {
		enqueue(done, done+3_000, now.Add(time.Duration(done)*time.Millisecond))
	}
	conn := schemaConn(t, u)
	deepPage := func() []string {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT id FROM asyncmq_jobs WHERE queue = 'big' AND state = 'waiting'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET $1`, offset)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	list := func() (int, []string) {
		t.Helper()
		page, err := b.ListJobs(ctx, asyncmqtype.ListJobsParams{
			Filter: asyncmqtype.JobFilter{Queue: "big", State: asyncmqtype.StateWaiting}, Offset: offset, Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range page.Jobs {
			ids = append(ids, j.ID)
		}
		return page.Total, ids
	}

	// Cache the counts and the anchor, then add newer jobs.
	oldPage := deepPage()
	if total, ids := list(); total != n || !slices.Equal(ids, oldPage) {
		t.Fatalf("before: Total %d, jobs %v; want %d, %v", total, ids, n, oldPage)
	}
	enqueue(n, n+more, now.Add(time.Hour))
	newPage := deepPage()
	if slices.Equal(oldPage, newPage) {
		t.Fatal("the new jobs did not shift the deep page; the test checks nothing")
	}

	deadline := time.Now().Add(b.CountsLag() + 5*time.Second)
	for {
		q, err := b.Queue(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		total, ids := list()
		waiting := q.Counts[asyncmqtype.StateWaiting]
		if (waiting != n && waiting != n+more) || (total != n && total != n+more) ||
			(!slices.Equal(ids, oldPage) && !slices.Equal(ids, newPage)) {
			t.Fatalf("meanwhile: Queue counts %d waiting, listing Total %d, jobs %v; want the old or the new state", waiting, total, ids)
		}
		if waiting == n+more && total == n+more && slices.Equal(ids, newPage) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after CountsLag: Queue counts %d waiting, listing Total %d, jobs %v; want %d, %d, %v",
				waiting, total, ids, n+more, n+more, newPage)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
