package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkSequentialCalls is a dependency chain's access pattern: one call at a time on
// one module, the same instance pool serving every call, under the operator's default
// limits and with the clock and random grants a real plugin usually has. It reports the
// pool's counters per call (created/op, reused/op, recycled/op, discarded/op): a warm
// pool creates nothing per call. "wat" is a tiny hand-written module (the floor: the
// host's own per-call cost); compare the languages with it, in one sitting
// (docs/performance.md, "Warm instances"). The conformance plugins do more work than
// the WAT echo: BenchmarkEchoPerLanguage compares what each kit adds.
func BenchmarkSequentialCalls(b *testing.B) {
	for _, lang := range append([]string{"wat"}, langs...) {
		b.Run(lang, func(b *testing.B) {
			path := watEcho
			if lang != "wat" {
				path = wasmPath(b, lang)
			}
			sequential(b, path)
		})
	}
}

// watEcho is the hand-written WAT echo (it also makes a log and a progress call).
var watEcho = filepath.Join("..", "..", "host", "sandbox", "testdata", "echo.wasm")

// BenchmarkEchoPerLanguage is BenchmarkSequentialCalls on the echo executors (their
// result is their input): the WAT echo, then examples/echo's Go, Rust and C ones (make
// kits), each reporting "x-wat", its time per call over the WAT echo's in the same run:
// what a language's kit and runtime add to a task. The WAT echo also makes a log and a
// progress host call, which the others do not, so x-wat understates what a kit adds by
// those two calls (BenchmarkSequentialEcho/wat-noop in host/sandbox is a call without
// them).
func BenchmarkEchoPerLanguage(b *testing.B) {
	var wat float64
	for _, lang := range []string{"wat", "go", "rust", "c"} {
		b.Run(lang, func(b *testing.B) {
			path := watEcho
			if lang != "wat" {
				path = kitModule(b, "echo_"+lang)
			}
			ns := sequential(b, path)
			if lang == "wat" {
				wat = ns
			} else if wat > 0 {
				b.ReportMetric(ns/wat, "x-wat")
			}
		})
	}
}

// sequential calls the module at path b.N times in a row after one warming call, with
// the clock and random grants, reports the pool's counters per call and returns the
// time per call in nanoseconds.
func sequential(b *testing.B, path string) float64 {
	ctx := context.Background()
	input := json.RawMessage(`{"text":"The quick brown fox jumps over the lazy dog","numbers":[1,2,3,4,5,6,7,8,9,10]}`)
	grants := sandbox.Grants{Clock: true, Random: true}
	wasm, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(string) sandbox.Grants { return grants }})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Load(ctx, wasm, filepath.Base(path))
	if err != nil {
		b.Fatal(err)
	}
	req := &executor.Request{Task: &task.Task{ID: "bench"}, Inputs: input}
	if _, err := mod.Execute(ctx, req); err != nil { // the chain's first task
		b.Fatal(err)
	}
	before := mod.Stats()
	n := 0
	start := time.Now()
	for b.Loop() {
		if _, err := mod.Execute(ctx, req); err != nil {
			b.Fatal(err)
		}
		n++
	}
	elapsed := time.Since(start)
	after := mod.Stats()
	per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
	b.ReportMetric(per(after.Created, before.Created), "created/op")
	b.ReportMetric(per(after.Reused, before.Reused), "reused/op")
	b.ReportMetric(per(after.Recycled, before.Recycled), "recycled/op")
	b.ReportMetric(per(after.Discarded, before.Discarded), "discarded/op")
	return float64(elapsed.Nanoseconds()) / float64(n)
}
