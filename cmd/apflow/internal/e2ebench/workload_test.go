package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apflow-wasm/apflow/host/submit"
)

// TestWorkloadsAreValidTrees: every tree file the harness writes (the 1,000,000-task
// shapes at a smaller size) is a valid submission with the task count its table divides
// by, and its dependencies are those of its shape.
func TestWorkloadsAreValidTrees(t *testing.T) {
	small := []workload{
		{name: "wide-1m", tasks: 101, write: wide(100)},
		{name: "layered-1m", tasks: 1 + 10 + 10*9, write: layered(10, 9)},
	}
	deps := map[string]int{ // dependencies in the whole tree
		"wide-1k": 0, "aggregate-1k": 1_000, "chain-200": 200, "diamond-100": 200,
		"wide-10k": 0, "wide-100k": 0, "wide-1m": 0, "layered-1m": 10 + 10*9,
	}
	for _, wl := range append(workloads, small...) {
		if wl.scale && wl.tasks > 1_000 {
			continue
		}
		t.Run(wl.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tree.json")
			n, err := writeTree(path, wl, "echo", "", "")
			if err != nil || n != wl.tasks {
				t.Fatalf("writeTree = %d, %v; want %d tasks", n, err, wl.tasks)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tasks, err := submit.Prepare(context.Background(), data, submit.Options{})
			if err != nil {
				t.Fatalf("not a valid tree: %v", err)
			}
			got := 0
			for _, tk := range tasks {
				got += len(tk.Dependencies)
			}
			if len(tasks) != wl.tasks || got != deps[wl.name] {
				t.Fatalf("%d tasks with %d dependencies, want %d with %d", len(tasks), got, wl.tasks, deps[wl.name])
			}
		})
	}
}
