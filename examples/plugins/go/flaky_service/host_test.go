package main

import (
	"context"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/pluginrun"
)

// TestThroughTheEngine builds the plugin for wasip1 and runs it through the real engine:
// the policy in its metadata retries the two failed calls and the third attempt
// completes, all three in the task's attempt history; a failure its policy does not name
// (no kv grant) is not retried.
func TestThroughTheEngine(t *testing.T) {
	t.Parallel()
	env := pluginrun.New(t, "flaky_service", pluginrun.Build(t, "."))
	env.SetGrants(sandbox.Grants{KV: &sandbox.KVGrant{}})
	root := env.Create(t, "flaky_service", "", map[string]any{"key": "prices"})
	status, out, msg := env.Run(t, root, false)
	if status != task.Completed || out["calls"] != float64(3) {
		t.Fatalf("status %s (%s), result %v: want completed on the third call", status, msg, out)
	}
	stored, err := env.Store.Get(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	h := stored.Retry.History
	if len(h) != 3 || h[0].Kind != "error_result" || h[1].Kind != "error_result" || h[2].Error != "" ||
		h[1].StartedAt.Sub(h[0].EndedAt).Milliseconds() < 300 || h[2].StartedAt.Sub(h[1].EndedAt).Milliseconds() < 600 {
		t.Fatalf("attempt history %+v: want two failures 300 ms then 600 ms apart, then a success", h)
	}

	env.SetGrants(sandbox.Grants{})
	denied := env.Create(t, "flaky_service", "", map[string]any{"key": "prices"})
	if status, _, msg := env.Run(t, denied, false); status != task.Failed || msg != "capability kv not granted to plugin flaky_service" {
		t.Fatalf("without the kv grant: %s (%s), want failed at once", status, msg)
	}
	if stored, _ := env.Store.Get(context.Background(), denied); len(stored.Retry.History) != 1 {
		t.Fatalf("history %+v: a failure the policy does not name is not retried", stored.Retry.History)
	}
}
