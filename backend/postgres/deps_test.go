package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
	"github.com/asyncmq/asyncmq/backend"
	"github.com/asyncmq/asyncmq/backend/postgres"
	"github.com/jackc/pgx/v5"
)

// TestMaintenanceAppliesParentFailurePolicies undoes the policy that Finish applied after its
// commit, as a crash between the two would leave it: the maintenance pass must apply it again.
func TestMaintenanceAppliesParentFailurePolicies(t *testing.T) {
	t.Parallel()
	u := freshSchema(t)
	b := open(t, u)
	ctx := t.Context()
	jobs := []*asyncmqtype.JobInfo{
		{ID: "p", Queue: "q", Task: "t"},
		{ID: "c", Queue: "q", Task: "t", DependsOn: []string{"p"}},
	}
	if err := b.Enqueue(ctx, backend.EnqueueParams{Jobs: jobs}); err != nil {
		t.Fatal(err)
	}
	claimed, err := b.Claim(ctx, backend.ClaimParams{Queue: "q", Limit: 1, WorkerID: "w", LeaseDuration: time.Minute})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	errs, err := b.Finish(ctx, backend.FinishParams{Items: []backend.Finish{{JobID: "p", LeaseToken: claimed[0].LeaseToken, Outcome: asyncmqtype.OutcomeFailed}}})
	if err != nil || errs[0] != nil {
		t.Fatalf("finish: %v, %v", errs, err)
	}
	if j, err := b.GetJob(ctx, "c"); err != nil || j.State != asyncmqtype.StateFailed {
		t.Fatalf("child after its parent failed: %+v, %v; want failed", j, err)
	}

	dsn, err := postgres.SQLDSN(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `UPDATE asyncmq_jobs SET state = 'waiting-children', finished_at = NULL, errors = NULL WHERE id = 'c'`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := b.GetJob(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if j.State == asyncmqtype.StateFailed {
			if e := j.LastError(); e == nil || e.Error != `parent job "p" failed` {
				t.Fatalf("error of the child failed by maintenance: %+v", e)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child still %s a minute after maintenance should have failed it", j.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
