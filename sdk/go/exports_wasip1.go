//go:build wasip1

package apflow

import "github.com/apflow-wasm/apflow/sdk/go/internal/wasmabi"

// The executor exports of ABI v1. alloc and dealloc are exported by package wasmabi;
// the hook exports by package hook. Every export first frees the previous call's result.

func registered() *Module {
	m, err := Registered()
	if err != nil {
		panic(err) // a module without registrations is broken: trap with the reason
	}
	return m
}

//go:wasmexport get_metadata
func getMetadata() uint64 {
	wasmabi.Enter()
	return wasmabi.Return(registered().MetadataJSON())
}

//go:wasmexport get_input_schema
func getInputSchema() uint64 {
	wasmabi.Enter()
	return wasmabi.Return(registered().InputSchema())
}

//go:wasmexport get_output_schema
func getOutputSchema() uint64 {
	wasmabi.Enter()
	return wasmabi.Return(registered().OutputSchema())
}

//go:wasmexport execute
func execute(ptr, n uint32) uint64 {
	wasmabi.Enter()
	input, ok := wasmabi.Input(ptr, n)
	if !ok {
		return wasmabi.Return(encodeError(NewError(CodeInvalidInputs,
			"execute: the input buffer was not obtained from alloc or is shorter than its length", nil)))
	}
	return wasmabi.Return(registered().Execute(wasmabi.Host{}, input))
}
