package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// wideTree returns a tree of n children of an aggregator-less root, all running method.
func wideTree(n int, method string) []byte {
	tasks := make([]map[string]any, 0, n+1)
	tasks = append(tasks, map[string]any{"name": "root", "schemas": map[string]any{"method": method}})
	for i := 0; i < n; i++ {
		tasks = append(tasks, map[string]any{"name": fmt.Sprintf("t%d", i), "parent_id": "root",
			"schemas": map[string]any{"method": method}, "inputs": map[string]any{"i": i}})
	}
	b, _ := json.Marshal(tasks)
	return b
}

// BenchmarkWideWASM runs wide trees of a no-op WASM plugin through the whole host as
// `apflow run` wires it: durable Badger store (fsync on), sandbox, registry, engine.
func BenchmarkWideWASM(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			plugins := b.TempDir()
			copyFile(b, "../../host/sandbox/testdata/noop.wasm", filepath.Join(plugins, "noop.wasm"))
			g := &globals{dataDir: b.TempDir(), pluginsDir: plugins, logLevel: "off", stdout: io.Discard, stderr: io.Discard}
			ctx := context.Background()
			h, err := g.openHost(ctx, roleWorker)
			if err != nil {
				b.Fatal(err)
			}
			defer h.close(ctx)
			data := wideTree(n, "noop")
			b.ResetTimer()
			total := runTrees(ctx, b, h, data, n+1)
			b.ReportMetric(float64(b.N*(n+1))/total.Seconds(), "tasks/s")
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*(n+1)), "µs/task")
		})
	}
}

// chainTree returns a chain of n tasks running method, each depending on the one
// before, under a root that depends on the last and runs method too.
func chainTree(n int, method string, inputs map[string]any) []byte {
	tasks := make([]map[string]any, 0, n+1)
	tasks = append(tasks, map[string]any{"name": "root", "schemas": map[string]any{"method": method},
		"inputs": inputs, "dependencies": []string{fmt.Sprintf("c%d", n-1)}})
	for i := 0; i < n; i++ {
		tk := map[string]any{"name": fmt.Sprintf("c%d", i), "parent_id": "root",
			"schemas": map[string]any{"method": method}, "inputs": inputs}
		if i > 0 {
			tk["dependencies"] = []string{fmt.Sprintf("c%d", i-1)}
		}
		tasks = append(tasks, tk)
	}
	b, _ := json.Marshal(tasks)
	return b
}

// BenchmarkChainWASM runs a 200-task dependency chain (one task at a time, one plugin)
// through the whole host as `apflow run` wires it, for the tiny WAT echo module and the
// conformance plugin of each kit (build/plugins). Beside µs/task it reports the plugin's
// pool counters per task: a warm pool creates no instance per task
// (docs/performance.md, "Warm instances").
func BenchmarkChainWASM(b *testing.B) {
	const n = 200
	inputs := map[string]any{"text": "The quick brown fox", "numbers": []int{1, 2, 3}}
	for _, lang := range []string{"wat", "go", "rust", "c", "assemblyscript"} {
		b.Run(lang, func(b *testing.B) {
			src, method := "../../host/sandbox/testdata/echo.wasm", "echo"
			if lang != "wat" {
				method = "conformance_" + lang
				src = "../../build/plugins/" + method + ".wasm"
			}
			if _, err := os.Stat(src); err != nil {
				b.Skipf("%s missing: run `make kits`", src)
			}
			plugins := b.TempDir()
			copyFile(b, src, filepath.Join(plugins, method+".wasm"))
			g := &globals{dataDir: b.TempDir(), pluginsDir: plugins, logLevel: "off", stdout: io.Discard, stderr: io.Discard}
			ctx := context.Background()
			h, err := g.openHost(ctx, roleWorker)
			if err != nil {
				b.Fatal(err)
			}
			defer h.close(ctx)
			data := chainTree(n, method, inputs)
			pool := func() sandbox.PoolStats {
				for _, p := range h.registry.Plugins() {
					if p.Info.ID == method {
						return p.Pool
					}
				}
				b.Fatalf("plugin %s not registered", method)
				return sandbox.PoolStats{}
			}
			before := pool()
			b.ResetTimer()
			total := runTrees(ctx, b, h, data, n+1)
			after := pool()
			tasks := float64(b.N * (n + 1))
			b.ReportMetric(float64(total.Microseconds())/tasks, "µs/task")
			b.ReportMetric(float64(after.Created-before.Created)/tasks, "created/task")
			b.ReportMetric(float64(after.Recycled-before.Recycled)/tasks, "recycled/task")
			b.ReportMetric(float64(after.Discarded-before.Discarded)/tasks, "discarded/task")
		})
	}
}

// runTrees submits data b.N times and runs each tree to its end, timing the runs only;
// every one of its want tasks must complete. It returns the time the runs took.
func runTrees(ctx context.Context, b *testing.B, h *host, data []byte, want int) time.Duration {
	b.Helper()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tasks, err := submit.Prepare(ctx, data, submit.Options{Catalog: h.catalog})
		if err != nil {
			b.Fatal(err)
		}
		if err := h.store.Create(ctx, tasks); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := h.engine.Execute(ctx, rootOf(tasks), engine.RunOptions{})
		total += time.Since(start)
		if err != nil || res.Status != task.Completed || res.Counts[task.Completed] != want {
			b.Fatalf("run: %v, %+v", err, res)
		}
	}
	return total
}

// rootOf is the id of the root of tasks, "" when none is.
func rootOf(tasks []*task.Task) string {
	for _, t := range tasks {
		if t.IsRoot() {
			return t.ID
		}
	}
	return ""
}
