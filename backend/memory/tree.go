package memory

import "math/rand/v2"

// tree is an ordered set with rank queries (an order-statistic treap). It backs every index of the
// store, so that a claim, a state change and a page of a listing all cost O(log n) instead of a
// scan or a copy of the whole state.
//
// Values must not change their ordering fields while they are in the tree: callers remove a job,
// change it, and insert it again.
type tree[T any] struct {
	root *node[T]
	less func(a, b T) bool
}

type node[T any] struct {
	v           T
	prio        uint32
	size        int
	left, right *node[T]
}

func newTree[T any](less func(a, b T) bool) *tree[T] {
	return &tree[T]{less: less}
}

func (n *node[T]) fix() {
	n.size = 1 + size(n.left) + size(n.right)
}

func size[T any](n *node[T]) int {
	if n == nil {
		return 0
	}
	return n.size
}

// len returns the number of values in the tree.
func (t *tree[T]) len() int { return size(t.root) }

// insert adds v; v must not compare equal to a value already in the tree.
func (t *tree[T]) insert(v T) {
	t.root = t.ins(t.root, &node[T]{v: v, prio: rand.Uint32(), size: 1})
}

func (t *tree[T]) ins(n, nn *node[T]) *node[T] {
	if n == nil {
		return nn
	}
	if nn.prio > n.prio {
		nn.left, nn.right = t.split(n, nn.v)
		nn.fix()
		return nn
	}
	if t.less(nn.v, n.v) {
		n.left = t.ins(n.left, nn)
	} else {
		n.right = t.ins(n.right, nn)
	}
	n.fix()
	return n
}

// split divides n into the values less than v and the others.
func (t *tree[T]) split(n *node[T], v T) (lt, ge *node[T]) {
	if n == nil {
		return nil, nil
	}
	if t.less(n.v, v) {
		n.right, ge = t.split(n.right, v)
		n.fix()
		return n, ge
	}
	lt, n.left = t.split(n.left, v)
	n.fix()
	return lt, n
}

func merge[T any](a, b *node[T]) *node[T] {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if a.prio > b.prio {
		a.right = merge(a.right, b)
		a.fix()
		return a
	}
	b.left = merge(a, b.left)
	b.fix()
	return b
}

// remove deletes the value that compares equal to v, if any.
func (t *tree[T]) remove(v T) {
	t.root = t.del(t.root, v)
}

func (t *tree[T]) del(n *node[T], v T) *node[T] {
	if n == nil {
		return nil
	}
	switch {
	case t.less(v, n.v):
		n.left = t.del(n.left, v)
	case t.less(n.v, v):
		n.right = t.del(n.right, v)
	default:
		return merge(n.left, n.right)
	}
	n.fix()
	return n
}

// ascend calls fn on the values in increasing order, starting after the first skip of them, until
// fn returns false.
func (t *tree[T]) ascend(skip int, fn func(T) bool) {
	ascend(t.root, skip, fn)
}

func ascend[T any](n *node[T], skip int, fn func(T) bool) (int, bool) {
	if n == nil {
		return skip, true
	}
	if ls := size(n.left); skip > ls {
		return ascend(n.right, skip-ls-1, fn)
	}
	skip, ok := ascend(n.left, skip, fn)
	if !ok {
		return 0, false
	}
	if skip > 0 {
		skip--
	} else if !fn(n.v) {
		return 0, false
	}
	return ascend(n.right, skip, fn)
}

// descend calls fn on the values in decreasing order, starting after the first skip of them,
// until fn returns false.
func (t *tree[T]) descend(skip int, fn func(T) bool) {
	descend(t.root, skip, fn)
}

func descend[T any](n *node[T], skip int, fn func(T) bool) (int, bool) {
	if n == nil {
		return skip, true
	}
	if rs := size(n.right); skip > rs {
		return descend(n.left, skip-rs-1, fn)
	}
	skip, ok := descend(n.right, skip, fn)
	if !ok {
		return 0, false
	}
	if skip > 0 {
		skip--
	} else if !fn(n.v) {
		return 0, false
	}
	return descend(n.left, skip, fn)
}
