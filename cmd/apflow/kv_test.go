package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestKVCacheSurvivesRestart runs examples/plugins/go/cached_executor's tree with the
// built binary, each run a new process: on Badger (one data dir) the first run computes
// and the second answers "cached": true from the store the first left on disk; on
// PostgreSQL the second run is another node (another data dir) and answers from the
// database.
func TestKVCacheSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a Go plugin")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	plugins := t.TempDir()
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath",
		"-o", filepath.Join(plugins, "cached_executor.wasm"), "../../examples/plugins/go/cached_executor")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cached_executor: %v\n%s", err, out)
	}
	example := "../../examples/plugins/go/cached_executor/"
	cached := func(what string, args ...string) bool {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"run", "--json", "--plugins", plugins,
			"--config", example + "config.json"}, args...), example+"tree.json")...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		var tree struct {
			Task struct {
				Status string `json:"status"`
				Result struct {
					Primes int  `json:"primes"`
					Cached bool `json:"cached"`
				} `json:"result"`
			} `json:"task"`
		}
		if err := json.Unmarshal(out, &tree); err != nil || tree.Task.Status != "completed" || tree.Task.Result.Primes != 348513 {
			t.Fatalf("%s: %v, tree %s", what, err, out)
		}
		return tree.Task.Result.Cached
	}

	dataDir := t.TempDir()
	if cached("first Badger run", "--data-dir", dataDir) {
		t.Fatal("first Badger run: cached on an empty store")
	}
	if !cached("second Badger run", "--data-dir", dataDir) {
		t.Fatal("second Badger run, a new process: not cached")
	}

	dsn := pg.Database(t)
	if cached("first PostgreSQL run", "--store", dsn, "--data-dir", t.TempDir()) {
		t.Fatal("first PostgreSQL run: cached on an empty database")
	}
	if !cached("second PostgreSQL run", "--store", dsn, "--data-dir", t.TempDir()) {
		t.Fatal("second PostgreSQL run, another node: not cached")
	}
}
