package hooks

import (
	"context"

	"github.com/apflow-wasm/apflow/host/task"
)

// Tree event kinds (the engine's TreeCreated … TreeFailed) and the exports they call.
var treeExports = map[string]string{
	"created":   "on_tree_created",
	"started":   "on_tree_started",
	"completed": "on_tree_completed",
	"failed":    "on_tree_failed",
}

// treeInput is the input document of the tree hooks; each export gets the members the
// ABI lists for it.
type treeInput struct {
	Root    *task.Task     `json:"root"`
	Tree    *task.TreeNode `json:"tree,omitempty"`
	Status  string         `json:"status,omitempty"`
	Message *string        `json:"message,omitempty"`
}

// TreeEvent runs the tree hooks of kind ("created", "started", "completed", "failed")
// in registration order. Failures are logged (there is no task to record them on) and
// reported by TreeErrors; an unknown kind is logged and ignored.
func (r *Runner) TreeEvent(ctx context.Context, kind string, root *task.Task, tree *task.TreeNode, status, message string) {
	_ = r.TreeErrors(ctx, kind, root, tree, status, message)
}

// TreeErrors is TreeEvent returning the errors of the hooks that failed.
func (r *Runner) TreeErrors(ctx context.Context, kind string, root *task.Task, tree *task.TreeNode, status, message string) []error {
	export, ok := treeExports[kind]
	if !ok || root == nil {
		r.log.Error("tree hook event ignored", "kind", kind, "has_root", root != nil)
		return nil
	}
	in := treeInput{Root: root}
	switch kind {
	case "created":
		in.Tree = tree
		if in.Tree == nil {
			in.Tree = &task.TreeNode{Task: root, Children: []*task.TreeNode{}}
		}
	case "completed":
		in.Status = status
	case "failed":
		in.Status = status
		in.Message = &message
	}
	var errs []error
	for _, id := range r.ids {
		h, err := r.acquire(id)
		if err != nil {
			continue // logged by acquire
		}
		if !has(h, export) {
			h.Release()
			continue
		}
		_, err = r.call(ctx, id, h, export, in, r.log.With("hook", id, "root", root.ID, "export", export))
		h.Release()
		if err != nil {
			r.log.Warn("tree hook failed", "hook", id, "root", root.ID, "event", kind, "error", err)
			errs = append(errs, err)
		}
	}
	return errs
}
