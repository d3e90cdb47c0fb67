package asyncmqtype_test

import (
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

func TestStateIndex(t *testing.T) {
	t.Parallel()
	if len(asyncmqtype.States) != asyncmqtype.NumStates {
		t.Fatalf("len(States) = %d, NumStates = %d", len(asyncmqtype.States), asyncmqtype.NumStates)
	}
	// Stores keep per-state counters by Index (SQLite in columns, Redis in key names), so a
	// state keeps its index for ever and a new one takes the next free index.
	want := map[asyncmqtype.State]int{
		asyncmqtype.StateWaiting: 0, asyncmqtype.StateActive: 1, asyncmqtype.StateDelayed: 2,
		asyncmqtype.StateCompleted: 3, asyncmqtype.StateFailed: 4, asyncmqtype.StateCancelled: 5,
		asyncmqtype.StateWaitingChildren: 6,
	}
	for _, s := range asyncmqtype.States {
		if got, ok := want[s]; !ok || s.Index() != got {
			t.Errorf("%s.Index() = %d, want %d", s, s.Index(), got)
		}
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
	}
	for _, s := range []asyncmqtype.State{"", "Waiting", "paused", "waiting_children"} {
		if got := s.Index(); got != -1 || s.Valid() {
			t.Errorf("State(%q): Index() = %d, Valid() = %v; want -1, false", s, got, s.Valid())
		}
	}
}
