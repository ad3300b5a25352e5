package engine

import (
	"context"
	"fmt"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Recover resumes the runs a crash or a Close interrupted (decisions 13). Call it once at
// start-up, before serving requests. Tasks found in_progress go back to pending (their
// attempt stays counted); then every tree holding such a task, or a pending task that
// was started before (attempts > 0) and is not blocked, is resumed: the run continues
// where it stopped, nothing completed runs again, and failed or cancelled tasks are not
// retried.
func (e *Engine) Recover(ctx context.Context) error {
	trees := map[string]bool{}
	now := e.cfg.Now()
	skip := 0
	for {
		page, _, err := e.cfg.Store.List(ctx, store.Filter{Status: task.InProgress, Limit: store.MaxLimit, Offset: skip})
		if err != nil {
			return fmt.Errorf("recover: list in_progress tasks: %w", err)
		}
		if len(page) == 0 {
			break
		}
		var b batch
		var firstErr error
		for _, t := range page {
			if e.run(treeOf(t)) != nil {
				skip++ // running in this engine: not orphaned
				continue
			}
			trees[treeOf(t)] = true
			b.add(t.ID, func(t *task.Task) error {
				if t.Status != task.InProgress {
					return nil
				}
				return t.Reset(now)
			}, func(_ *task.Task, err error) {
				if err != nil && firstErr == nil {
					firstErr = err
				}
			})
		}
		b.commit(ctx, e.cfg.Store)
		if firstErr != nil {
			return fmt.Errorf("recover: reset in_progress tasks: %w", firstErr)
		}
	}
	for offset := 0; ; {
		page, _, err := e.cfg.Store.List(ctx, store.Filter{Status: task.Pending, Limit: store.MaxLimit, Offset: offset})
		if err != nil {
			return fmt.Errorf("recover: list pending tasks: %w", err)
		}
		for _, t := range page {
			if t.Attempts > 0 && !t.Blocked() {
				trees[treeOf(t)] = true
			}
		}
		if len(page) < store.MaxLimit {
			break
		}
		offset += len(page)
	}
	for treeID := range trees {
		if _, err := e.startTree(ctx, treeID, RunOptions{resume: true}); err != nil {
			if e.run(treeID) != nil {
				continue
			}
			return fmt.Errorf("recover: resume tree %s: %w", treeID, err)
		}
	}
	return nil
}

// startTree starts a whole-tree run of the tree with the given id.
func (e *Engine) startTree(ctx context.Context, treeID string, opts RunOptions) (*Run, error) {
	tasks, err := e.cfg.Store.Tree(ctx, treeID)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.IsRoot() {
			return e.Start(ctx, t.ID, opts)
		}
	}
	return nil, fmt.Errorf("tree %s has no root", treeID)
}
