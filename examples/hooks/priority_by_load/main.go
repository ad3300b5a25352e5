// Command priority_by_load is a pre-hook that uses the hook repository (docs/hooks.md,
// "The hook repository (store_call)"): it counts the pending tasks and, when more
// than a threshold are waiting, demotes the task by one priority level (priority + 1,
// at most 3; 0 is the most urgent) through update_task. Critical tasks (priority 0) are
// never demoted. Inputs are not changed.
//
// The engine runs pre-hooks after a task has started, so the new priority does not
// reorder that run; it is stored on the task (visible in tasks.get, used when the task
// is re-executed).
//
// Grants it uses (operator config, plugins.priority_by_load):
//
//	"repository": true                          store_call (count_tasks, update_task)
//	"config": {"PENDING_THRESHOLD": "100"}      N (default 100)
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o priority_by_load.wasm ./examples/hooks/priority_by_load
package main

import (
	"strconv"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/hook"
)

// DefaultThreshold is N when PENDING_THRESHOLD is not configured.
const DefaultThreshold = 100

func main() {}

func init() {
	hook.Register(apflow.Hook{
		ID: "priority_by_load", Name: "Priority by load", Version: "1.0.0",
		Description:  "demotes non-critical tasks by one priority level while more than N tasks are pending",
		Capabilities: []string{"repository", "config"},
		Pre:          pre,
	})
}

func threshold(ctx *apflow.Context) (int, error) {
	s, ok := ctx.Config("PENDING_THRESHOLD")
	if !ok || s == "" {
		return DefaultThreshold, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, apflow.Errorf("PENDING_THRESHOLD must be a non-negative integer, got %q", s)
	}
	return n, nil
}

func pre(ctx *apflow.Context, t *apflow.Task, _ map[string]any) (map[string]any, error) {
	n, err := threshold(ctx)
	if err != nil {
		return nil, err
	}
	store := ctx.Store()
	pending, err := store.CountTasks("pending")
	if err != nil {
		return nil, err
	}
	if pending <= n || t.Priority == 0 || t.Priority >= 3 {
		ctx.Log.Debug("priority kept", "task_id", t.ID, "pending", pending, "threshold", n, "priority", t.Priority)
		return nil, nil
	}
	updated, err := store.UpdateTask(t.ID, map[string]any{"priority": t.Priority + 1})
	if err != nil {
		return nil, err
	}
	ctx.Log.Info("priority lowered under load", "task_id", t.ID, "pending", pending, "threshold", n,
		"from", t.Priority, "to", updated.Priority)
	return nil, nil
}
