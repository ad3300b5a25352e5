package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// BenchmarkConformance measures the same plugin in every language through the host, so
// users can pick a language knowingly (docs/performance.md):
//
//   - call: one execution on a pooled instance (alloc + execute + result copy);
//   - fresh: one execution on a new instance every time (instantiate, _initialize, call);
//   - the metrics module_bytes and memory_KiB (the instance's linear memory after a call).
func BenchmarkConformance(b *testing.B) {
	ctx := context.Background()
	input := json.RawMessage(`{"text":"The quick brown fox jumps over the lazy dog","numbers":[1,2,3,4,5,6,7,8,9,10]}`)
	for _, lang := range langs {
		path := wasmPath(b, lang)
		wasm, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []struct {
			name    string
			recycle int
		}{{"call", 0}, {"fresh", 1}} {
			b.Run(fmt.Sprintf("%s/%s", lang, mode.name), func(b *testing.B) {
				rt, err := sandbox.New(ctx, sandbox.Config{RecycleAfter: mode.recycle})
				if err != nil {
					b.Fatal(err)
				}
				defer rt.Close(ctx)
				mod, err := rt.Load(ctx, wasm, "conformance_"+lang+".wasm")
				if err != nil {
					b.Fatal(err)
				}
				req := &executor.Request{Task: &task.Task{ID: "bench"}, Inputs: input}
				resp, err := mod.Execute(ctx, req) // warm the pool
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if resp, err = mod.Execute(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(len(wasm)), "module_bytes")
				b.ReportMetric(float64(resp.Usage.PeakMemoryPages)*64, "memory_KiB")
			})
		}
	}
}
