package scheduler

import (
	"context"
	"fmt"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// EngineRunner runs claimed occurrences on an engine: Busy asks engine.RunActive of the
// tree's root (in a cluster, every node's runs), Fire starts engine.Start with
// RunOptions{Full: true}.
type EngineRunner struct {
	Engine *engine.Engine
	Store  store.Store
}

// Busy implements Runner.
func (r EngineRunner) Busy(ctx context.Context, t *task.Task) (bool, error) {
	root, err := store.RootOf(ctx, r.Store.Get, t)
	if err != nil {
		return false, err
	}
	return r.Engine.RunActive(ctx, root.ID)
}

// Fire implements Runner. A tree holding links or archived tasks (frozen) is refused,
// as tasks.execute refuses their full re-run.
func (r EngineRunner) Fire(ctx context.Context, t *task.Task) (<-chan struct{}, error) {
	x, err := store.FirstTask(ctx, r.Store, t.TreeID(), (*task.Task).Frozen)
	if err != nil {
		return nil, fmt.Errorf("load the tree of %s: %w", t.ID, err)
	}
	if x != nil {
		return nil, fmt.Errorf("full re-run of %s refused: task %s is a %s: %w; clone the tree in copy mode to schedule it", t.ID, x.ID, x.OriginType, ErrFrozen)
	}
	run, err := r.Engine.Start(ctx, t.ID, engine.RunOptions{Full: true})
	if err != nil {
		return nil, err
	}
	return run.Done(), nil
}
