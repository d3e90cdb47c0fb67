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
	for i, s := range asyncmqtype.States {
		if got := s.Index(); got != i {
			t.Errorf("%s.Index() = %d, want its position in States, %d", s, got, i)
		}
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
	}
	for _, s := range []asyncmqtype.State{"", "Waiting", "paused", "waiting-children"} {
		if got := s.Index(); got != -1 || s.Valid() {
			t.Errorf("State(%q): Index() = %d, Valid() = %v; want -1, false", s, got, s.Valid())
		}
	}
}
