//go:build wasip1

package hook

import (
	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/internal/wasmabi"
)

func call(p apflow.HookPoint, ptr, n uint32) uint64 {
	wasmabi.Enter()
	input, ok := wasmabi.Input(ptr, n)
	if !ok {
		return wasmabi.Return([]byte(`{"error":"` + string(p) + `: the input buffer was not obtained from alloc"}`))
	}
	m, err := apflow.Registered()
	if err != nil {
		panic(err)
	}
	return wasmabi.Return(m.CallHook(wasmabi.Host{}, p, input))
}

//go:wasmexport pre_hook
func preHook(ptr, n uint32) uint64 { return call(apflow.PreHook, ptr, n) }

//go:wasmexport post_hook
func postHook(ptr, n uint32) uint64 { return call(apflow.PostHook, ptr, n) }

//go:wasmexport on_tree_created
func onTreeCreated(ptr, n uint32) uint64 { return call(apflow.OnTreeCreated, ptr, n) }

//go:wasmexport on_tree_started
func onTreeStarted(ptr, n uint32) uint64 { return call(apflow.OnTreeStarted, ptr, n) }

//go:wasmexport on_tree_completed
func onTreeCompleted(ptr, n uint32) uint64 { return call(apflow.OnTreeCompleted, ptr, n) }

//go:wasmexport on_tree_failed
func onTreeFailed(ptr, n uint32) uint64 { return call(apflow.OnTreeFailed, ptr, n) }

//go:wasmexport get_hook_config
func getHookConfig() uint64 {
	wasmabi.Enter()
	m, err := apflow.Registered()
	if err != nil {
		panic(err)
	}
	return wasmabi.Return(m.HookConfig())
}
