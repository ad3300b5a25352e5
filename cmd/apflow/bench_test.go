package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
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
				if err != nil || res.Status != task.Completed || res.Counts[task.Completed] != n+1 {
					b.Fatalf("run: %v, %+v", err, res)
				}
			}
			b.ReportMetric(float64(b.N*(n+1))/total.Seconds(), "tasks/s")
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*(n+1)), "µs/task")
		})
	}
}
