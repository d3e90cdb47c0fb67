package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TestCountPlan checks what callers do with a large queue's cached counts as they age: serve
// them while fresh, serve them and hand one recount to the refresher once stale, serve them
// while that recount runs up to countsLag, then wait for it; and count themselves past
// countsLag when no recount is under way.
func TestCountPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	counts := map[asyncmqtype.State]int{asyncmqtype.StateWaiting: bigCount}
	setup := func(t *testing.T, age time.Duration) *listCache {
		t.Helper()
		var c listCache
		c.storeCounts("big", counts, time.Now().Add(-age), 0)
		return &c
	}
	// age makes the cached counts that old, as if the recount claimed took that long.
	age := func(c *listCache, d time.Duration) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.counts["big"].at = time.Now().Add(-d)
	}
	check := func(t *testing.T, c *listCache, want plan, wantCounts bool) {
		t.Helper()
		got, pl, err := c.countPlan(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if pl != want || (got != nil) != wantCounts {
			t.Fatalf("countPlan = %v with counts %v, want plan %v with counts: %v", pl, got, want, wantCounts)
		}
		if wantCounts && got[asyncmqtype.StateWaiting] != bigCount {
			t.Fatalf("countPlan served %v, want the cached counts %v", got, counts)
		}
	}

	t.Run("fresh", func(t *testing.T) {
		t.Parallel()
		check(t, setup(t, 0), useCached, true)
	})
	t.Run("stale: one refresh, the others served", func(t *testing.T) {
		t.Parallel()
		c := setup(t, countsFresh+time.Millisecond)
		check(t, c, refreshLater, true)
		check(t, c, useCached, true)
		c.storeCounts("big", map[asyncmqtype.State]int{asyncmqtype.StateWaiting: bigCount + 1}, time.Now(), 0)
		got, pl, err := c.countPlan(ctx, "big")
		if err != nil || pl != useCached || got[asyncmqtype.StateWaiting] != bigCount+1 {
			t.Fatalf("after the recount: countPlan = %v, %v, %v; want the new counts", got, pl, err)
		}
	})
	t.Run("stale: a failed refresh is claimed again", func(t *testing.T) {
		t.Parallel()
		c := setup(t, countsFresh+time.Millisecond)
		check(t, c, refreshLater, true)
		c.releaseCounts([]string{"big"})
		check(t, c, refreshLater, true)
	})
	t.Run("past the lag: count now", func(t *testing.T) {
		t.Parallel()
		check(t, setup(t, countsLag), readNow, false)
	})
	t.Run("past the lag: wait for the refresh under way", func(t *testing.T) {
		t.Parallel()
		c := setup(t, countsFresh+time.Millisecond)
		check(t, c, refreshLater, true)
		age(c, countsLag)
		done := make(chan plan, 1)
		go func() {
			_, pl, _ := c.countPlan(ctx, "big")
			done <- pl
		}()
		c.storeCounts("big", counts, time.Now(), 0)
		if pl := <-done; pl != useCached {
			t.Fatalf("a caller past the lag got plan %v after the recount, want the new counts", pl)
		}
		wait, cancel := context.WithCancel(ctx)
		cancel()
		c2 := setup(t, countsFresh+time.Millisecond)
		check(t, c2, refreshLater, true)
		age(c2, countsLag)
		if _, _, err := c2.countPlan(wait, "big"); err == nil {
			t.Fatal("a caller past the lag with its context done did not give up waiting")
		}
	})
	t.Run("small queues are always counted", func(t *testing.T) {
		t.Parallel()
		var c listCache
		c.storeCounts("small", map[asyncmqtype.State]int{asyncmqtype.StateWaiting: 3}, time.Now(), 0)
		if _, pl, _ := c.countPlan(ctx, "small"); pl != readNow {
			t.Fatalf("countPlan of a small queue = %v, want readNow", pl)
		}
	})
}

// TestAnchorPlan checks the same for deep-page anchors: a missing anchor is found by the
// caller, a stale one is served while the refresher finds it again, and one past anchorStale
// is found by the caller.
func TestAnchorPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := anchorKey{queue: "big", state: asyncmqtype.StateWaiting, desc: true, offset: anchorMinOffset}
	store := func(c *listCache, age time.Duration) {
		c.storeAnchor(k, anchor{createdAt: time.Unix(1, 0), id: "j1", ok: true, at: time.Now().Add(-age)})
	}
	var c listCache
	if _, pl, err := c.anchorPlan(ctx, k); err != nil || pl != readNow {
		t.Fatalf("missing anchor: plan %v, %v; want readNow", pl, err)
	}
	store(&c, 0)
	if a, pl, _ := c.anchorPlan(ctx, k); pl != useCached || a.id != "j1" {
		t.Fatalf("fresh anchor: plan %v, anchor %q; want useCached j1", pl, a.id)
	}
	store(&c, anchorFresh)
	if a, pl, _ := c.anchorPlan(ctx, k); pl != refreshLater || a.id != "j1" || !a.ok {
		t.Fatalf("stale anchor: plan %v, anchor %q; want refreshLater with j1", pl, a.id)
	}
	if a, pl, _ := c.anchorPlan(ctx, k); pl != useCached || a.id != "j1" {
		t.Fatalf("stale anchor being refreshed: plan %v, anchor %q; want useCached j1", pl, a.id)
	}
	c.releaseAnchor(k)
	store(&c, anchorStale)
	if _, pl, _ := c.anchorPlan(ctx, k); pl != readNow {
		t.Fatalf("anchor past anchorStale: plan %v; want readNow", pl)
	}
}
