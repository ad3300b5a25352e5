// Command flaky is a hook that always fails, to show that a failing hook never fails a
// task (docs/semantics.md rule 19; docs/hooks.md, "Examples"): its pre-hook
// returns an error, its post-hook panics (the SDK turns the panic into an error result),
// and its on_tree_started hook returns an error. The task runs and completes; the
// failures are recorded in the task's hook_errors and logged. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o flaky.wasm ./examples/hooks/flaky
package main

import (
	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/hook"
)

func main() {}

func init() {
	hook.Register(apflow.Hook{
		ID: "flaky", Name: "Flaky hook", Version: "1.0.0",
		Description: "fails in every hook point, safely",
		Pre: func(_ *apflow.Context, t *apflow.Task, _ map[string]any) (map[string]any, error) {
			return map[string]any{"never": "applied"}, apflow.Errorf("flaky: simulated pre-hook failure on task %s", t.ID)
		},
		Post: func(_ *apflow.Context, t *apflow.Task, _ map[string]any, _ any) error {
			panic("flaky: simulated post-hook panic on task " + t.ID)
		},
		OnTreeStarted: func(_ *apflow.Context, root *apflow.Task) error {
			return apflow.Errorf("flaky: simulated tree hook failure on tree %s", root.ID)
		},
	})
}
