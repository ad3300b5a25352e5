// Package hook registers an apflow hook and links the hook exports of ABI v1 (pre_hook,
// post_hook, on_tree_*, get_hook_config) into the plugin module. Executor-only plugins do
// not import it, so their modules export no hook functions.
//
//	func init() {
//		hook.Register(apflow.Hook{ID: "audit", Post: func(ctx *apflow.Context, t *apflow.Task, in map[string]any, res any) error { … }})
//	}
package hook

import (
	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/internal/registry"
)

// Register makes h the module's hook. Call it from an init function; it panics when
// another hook is already registered. A hook-only module must set h.ID; a module that
// also registers an executor takes its metadata from the executor. apflow.Registered
// reports an invalid combination, and the module's exports trap with that reason.
func Register(h apflow.Hook) {
	if err := registry.SetHook(h); err != nil {
		panic("hook.Register: " + err.Error())
	}
}
