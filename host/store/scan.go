package store

import (
	"context"
	"errors"

	"github.com/apflow-wasm/apflow/host/task"
)

// TreeScanner is a Store that hands a tree's tasks over one at a time (badgerstore,
// memstore): ScanTree calls fn with every task of the tree in Tree's order, each a copy
// the caller owns, outside any transaction, and returns fn's first error. It need not be
// one snapshot (storetest.RunScanTree).
type TreeScanner interface {
	ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error
}

// EachTask calls fn with every task of the tree, in Tree's order, and returns fn's first
// error. It hands them over one at a time when st is a TreeScanner, so that reading back
// a large tree holds one task at a time, not the whole tree decoded; otherwise it reads
// the tree whole and drops each task once fn has seen it.
func EachTask(ctx context.Context, st Store, treeID string, fn func(*task.Task) error) error {
	if sc, ok := st.(TreeScanner); ok {
		return sc.ScanTree(ctx, treeID, fn)
	}
	tasks, err := st.Tree(ctx, treeID)
	if err != nil {
		return err
	}
	for k, t := range tasks {
		tasks[k] = nil // garbage once seen
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// FirstTask returns the first task of the tree, in Tree's order, that match accepts, or
// nil when none does; match sees every task up to that one, in order. When st is a
// TreeScanner it holds one task at a time and stops reading at that task; another store
// reads the tree whole first (EachTask). FirstTask(ctx, st, treeID, (*task.Task).Frozen)
// is how a full re-run of a tree with a link or an archive is refused (tasks.execute
// with full, a scheduled run).
func FirstTask(ctx context.Context, st Store, treeID string, match func(*task.Task) bool) (*task.Task, error) {
	var found *task.Task
	err := EachTask(ctx, st, treeID, func(t *task.Task) error {
		if match(t) {
			found = t
			return errStop
		}
		return nil
	})
	if found != nil {
		return found, nil
	}
	return nil, err
}

// errStop ends an EachTask once its fn has found what it looks for.
var errStop = errors.New("stop")
