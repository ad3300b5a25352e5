package api

import (
	"context"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Engine is what the server calls on the execution engine: the methods of an
// *engine.Engine it uses, with the engine's own types (see host/engine for their
// guarantees). Pass the *engine.Engine itself.
type Engine interface {
	// Start runs (or re-runs) the stored tree of taskID and returns at once; a tree that
	// is already running answers code AlreadyExecuting.
	Start(ctx context.Context, taskID string, opts engine.RunOptions) (*engine.Run, error)
	// Cancel cancels a task (the whole tree for its root) and returns the tasks it
	// cancelled.
	Cancel(ctx context.Context, taskID, msg string) ([]*task.Task, error)
	// Clone copies, links or archives a task or its subtree.
	Clone(ctx context.Context, taskID string, opts engine.CloneOptions) ([]*task.Task, error)
	// ToRun marks a tree about to be stored and started at once, so that a crash before
	// its run's first commit leaves it to be resumed, and returns the function that gives
	// back what it reserved for the run's Start (engine.Engine.ToRun): never nil when the
	// error is, since callers defer it.
	ToRun(ctx context.Context, b store.Batch, treeID, rootID string) (store.Batch, func(), error)
	// TreeCreated tells the engine a submission was stored (it fires the tree hooks).
	TreeCreated(ctx context.Context, rootID string)
	// Subscribe returns the events of the run of rootID of the given types (none: all)
	// and the function that ends the subscription and closes the channel.
	Subscribe(rootID string, types ...string) (<-chan engine.Event, func())
	// Running describes the runs in progress.
	Running() []engine.RunInfo
	// RunActive reports whether the run of the tree rooted at rootID is in progress; an
	// error means it cannot tell (the store is unreachable).
	RunActive(ctx context.Context, rootID string) (bool, error)
	// Update changes a stored task of a tree that is not running (AlreadyExecuting
	// otherwise), under the lock that starts runs.
	Update(ctx context.Context, id string, change func(*task.Task) error) (*task.Task, error)
	// Delete deletes a task and its descendants of a tree that is not running
	// (CannotDelete otherwise), under the lock that starts runs, after check.
	Delete(ctx context.Context, id string, check func(subtree []*task.Task) error) ([]*task.Task, error)
	// ObserveExecutors has fn told of every executor call, its executor and duration in
	// seconds, until the function returned is called.
	ObserveExecutors(fn func(executor string, seconds float64)) (stop func())
}
