package asyncmq

import (
	"context"
	"fmt"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// CreateRepeatable validates spec and stores it as a repeatable definition, replacing one with the
// same ID, and returns it with its ID and first NextRun. Workers serving the spec's queue fire it,
// each run exactly once across all workers. Invalid specs fail with an error wrapping
// asyncmqtype.ErrInvalid that names the problem.
func (i *Inspector) CreateRepeatable(ctx context.Context, spec RepeatableSpec) (asyncmqtype.Repeatable, error) {
	r, err := spec.build(i.now())
	if err != nil {
		return asyncmqtype.Repeatable{}, fmt.Errorf("create repeatable of task %q: %w", spec.Task, err)
	}
	if err := i.b.UpsertRepeatable(ctx, r); err != nil {
		return asyncmqtype.Repeatable{}, fmt.Errorf("create repeatable %q: %w", r.ID, err)
	}
	return r, nil
}
