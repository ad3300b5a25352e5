// Package patterns holds the patterns demo (make demo-patterns): tree.json, run twice
// on one data dir with the example plugins and config.json.
package patterns

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// node is a tree as apflow run --json writes it, with the task fields the demo shows.
type node struct {
	Task struct {
		Name     string         `json:"name"`
		Status   string         `json:"status"`
		Attempts int            `json:"attempts"`
		Result   map[string]any `json:"result"`
	} `json:"task"`
	Children []node `json:"children"`
}

// TestPatternsDemo runs tree.json twice, as make demo-patterns does, with a binary built
// from this tree: in the first run prices completes on its third attempt (the engine
// retried the flaky service twice) and primes computes; in the second, a new process
// and a new tree, primes answers from the plugin's key-value space.
func TestPatternsDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the demo through the example plugins")
	}
	plugins := apflowbin.Modules(t, "build/examples", "make example-plugins", "flaky_service", "cached_executor")
	bin := apflowbin.Build(t)
	data := t.TempDir()
	for run, cached := range []bool{false, true} {
		out, err := exec.Command(bin, "run", "-q", "--json", "--data-dir", data, "--plugins", plugins,
			"--config", "config.json", "tree.json").Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("run %d: %v\n%s\n%s", run+1, err, stderr, out)
		}
		var root node
		if err := json.Unmarshal(out, &root); err != nil {
			t.Fatalf("run %d: apflow run --json: %v\n%s", run+1, err, out)
		}
		tasks := map[string]node{root.Task.Name: root}
		for _, c := range root.Children {
			tasks[c.Task.Name] = c
		}
		for name, want := range map[string]int{"report": 1, "prices": 3, "primes": 1} {
			if got := tasks[name].Task; got.Status != "completed" || got.Attempts != want {
				t.Errorf("run %d: %s %s after %d attempts, want completed after %d", run+1, name, got.Status, got.Attempts, want)
			}
		}
		if got := tasks["primes"].Task.Result["cached"]; got != cached {
			t.Errorf("run %d: primes cached %v, want %v", run+1, got, cached)
		}
	}
}
