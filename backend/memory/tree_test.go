package memory

import (
	"slices"
	"testing"
)

// FuzzTree drives the treap with a sequence of inserts and removes and checks every traversal
// against a sorted slice after each step.
func FuzzTree(f *testing.F) {
	f.Add([]byte{0, 5, 0, 3, 0, 9, 1, 3, 0, 1, 2, 1, 3, 0})
	f.Add([]byte("insert remove walk the tree in both directions"))
	f.Add(slices.Repeat([]byte{0, 1, 0, 2, 0, 3, 1, 2}, 20))
	f.Fuzz(func(t *testing.T, ops []byte) {
		tr := newTree(func(a, b int) bool { return a < b })
		var model []int
		for i := 0; i+1 < len(ops); i += 2 {
			k := int(ops[i+1])
			pos, found := slices.BinarySearch(model, k)
			switch ops[i] % 4 {
			case 0:
				if !found {
					tr.insert(k)
					model = slices.Insert(model, pos, k)
				}
			case 1:
				tr.remove(k)
				if found {
					model = slices.Delete(model, pos, pos+1)
				}
			case 2:
				got := collect(tr.ascend, k%(len(model)+2), 3)
				want := model[min(k%(len(model)+2), len(model)):]
				requireInts(t, got, want[:min(3, len(want))], "ascend")
			case 3:
				skip := k % (len(model) + 2)
				got := collect(tr.descend, skip, 3)
				rev := slices.Clone(model)
				slices.Reverse(rev)
				want := rev[min(skip, len(rev)):]
				requireInts(t, got, want[:min(3, len(want))], "descend")
			}
			if tr.len() != len(model) {
				t.Fatalf("len = %d, want %d", tr.len(), len(model))
			}
		}
		requireInts(t, collect(tr.ascend, 0, -1), model, "full ascend")
	})
}

// collect walks from skip and returns up to n values (all when n < 0).
func collect(walk func(int, func(int) bool), skip, n int) []int {
	var out []int
	walk(skip, func(v int) bool {
		out = append(out, v)
		return n < 0 || len(out) < n
	})
	return out
}

func requireInts(t *testing.T, got, want []int, what string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
