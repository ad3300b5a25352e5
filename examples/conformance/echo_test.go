package conformance_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestEchoKitsReturnTheirInput runs examples/echo's executors in the sandbox: each
// returns its input byte for byte, not re-encoded. The Go one takes and returns json.RawMessage and the
// Rust one uses execute_raw, the kits' pass-through paths, which no other test runs
// compiled to WebAssembly.
func TestEchoKitsReturnTheirInput(t *testing.T) {
	t.Parallel()
	// Spaces and 2.50: what re-encoding (encoding/json, the Rust kit's Value) would change.
	input := json.RawMessage(`{"text": "héllo \"q\"", "numbers": [1, 2.50, -3], "nested": {"ok": true}}`)
	for _, lang := range []string{"go", "rust", "c"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			wasm, err := os.ReadFile(kitModule(t, "echo_"+lang))
			if err != nil {
				t.Fatal(err)
			}
			rt, err := sandbox.New(ctx, sandbox.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(ctx) })
			mod, err := rt.Load(ctx, wasm, "echo_"+lang+".wasm")
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // a fresh instance, then a pooled one
				resp, err := mod.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: input})
				if err != nil {
					t.Fatal(err)
				}
				if string(resp.Output) != string(input) {
					t.Fatalf("result %s, want the input %s", resp.Output, input)
				}
			}
		})
	}
}
