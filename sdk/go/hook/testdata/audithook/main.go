// Command audithook is a test hook plugin: it stamps inputs in pre_hook, raises the
// priority of completed tasks through the store in post_hook, and panics in
// on_tree_failed.
package main

import (
	"errors"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/hook"
)

func main() {}

func init() {
	hook.Register(apflow.Hook{
		ID: "audithook", Version: "1.0.0", Capabilities: []string{"repository"},
		Executors: []string{"text_stats"},
		Pre: func(ctx *apflow.Context, t *apflow.Task, inputs map[string]any) (map[string]any, error) {
			if inputs["reject"] == true {
				return nil, errors.New("rejected by audithook")
			}
			ctx.Log.Info("pre", "task", t.ID)
			inputs["audited_by"] = "audithook:" + t.Method()
			return inputs, nil
		},
		Post: func(ctx *apflow.Context, t *apflow.Task, _ map[string]any, _ any) error {
			_, err := ctx.Store().UpdateTask(t.ID, map[string]any{"priority": 0})
			return err
		},
		OnTreeFailed: func(_ *apflow.Context, _ *apflow.Task, message string) error {
			panic("tree failed: " + message)
		},
	})
}
