// Package apflowtest runs apflow Go plugins natively, in ordinary `go test`, through the
// exact code path of the wasm exports minus the pointer glue: inputs are JSON-encoded,
// validated against the module's input schema the way the host does, handed to
// [apflow.Module.Execute] as bytes, and the result document is validated against the
// output schema. Host functions are served by a recording fake [Host].
//
//	func TestStats(t *testing.T) {
//		h := apflowtest.New(t) // the module main's init registered
//		res := h.Execute(map[string]any{"text": "a b a"})
//		if res.Failed() { t.Fatal(res.Error()) }
//	}
package apflowtest
