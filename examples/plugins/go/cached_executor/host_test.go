package main

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/pluginrun"
)

// TestThroughTheEngine builds the plugin for wasip1 and runs its tree through the real
// engine, sandbox and store: the first run computes (cached false), the second run of
// the same tree answers from the kv store (cached true), a tree with the same input
// does too, another user's tree computes again (spaces are per user), and without the
// kv grant the task fails naming the missing capability.
func TestThroughTheEngine(t *testing.T) {
	t.Parallel()
	env := pluginrun.New(t, "cached_executor", pluginrun.Build(t, "."))
	env.SetGrants(sandbox.Grants{KV: &sandbox.KVGrant{}})
	run := func(what, root string, full bool, want bool) {
		t.Helper()
		status, out, msg := env.Run(t, root, full)
		if status != task.Completed || out["cached"] != want || out["primes"] != float64(78498) {
			t.Fatalf("%s: status %s (%s), result %v; want completed with cached %v", what, status, msg, out, want)
		}
	}
	root := env.Create(t, "cached_executor", "", map[string]any{"n": 1000000})
	run("first run", root, false, false)
	run("second run of the tree", root, true, true)
	run("another tree, same input", env.Create(t, "cached_executor", "", map[string]any{"n": 1000000, "ttl_ms": 1}), false, true)
	run("another user", env.Create(t, "cached_executor", "alice", map[string]any{"n": 1000000}), false, false)

	env.SetGrants(sandbox.Grants{})
	status, out, msg := env.Run(t, env.Create(t, "cached_executor", "", map[string]any{"n": 1000000}), false)
	if status != task.Failed || msg != "capability kv not granted to plugin cached_executor" {
		t.Fatalf("without the kv grant: status %s, error %q, result %v", status, msg, out)
	}
}
