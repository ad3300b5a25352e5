package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/pluginrun"
)

// TestThroughTheEngine builds the plugin for wasip1 and runs it through the real
// engine, sandbox and store: the first run sends and then fails; the re-run of the
// failed task finds the record and completes with already_done true without sending
// again (the outbox holds one message); without the kv grant the task fails naming it.
func TestThroughTheEngine(t *testing.T) {
	t.Parallel()
	env := pluginrun.New(t, "idempotent_send", pluginrun.Build(t, "."))
	env.SetGrants(sandbox.Grants{KV: &sandbox.KVGrant{}})
	root := env.Create(t, "idempotent_send", "", map[string]any{
		"to": "ops@example.com", "message": "deploy done", "idempotency_key": "deploy-42", "fail_after_send": true})
	status, out, msg := env.Run(t, root, false)
	if status != task.Failed || msg != "failing after the send, as asked (fail_after_send): a retry must not send again" {
		t.Fatalf("first run: status %s (%s), result %v; want failed after the send", status, msg, out)
	}
	for i := range 2 { // the re-run of the failed task, then a full re-run of the tree
		status, out, msg = env.Run(t, root, i == 1)
		if status != task.Completed || out["already_done"] != true || out["outbox_entry"] != "outbox/000000" {
			t.Fatalf("re-run %d: status %s (%s), result %v; want completed, already_done", i, status, msg, out)
		}
	}
	keys, _, err := env.Store.KVList(context.Background(), store.KVSpace{Plugin: "idempotent_send"}, "outbox/", "", 10, time.Now())
	if err != nil || !slices.Equal(keys, []string{"outbox/000000"}) {
		t.Fatalf("outbox = %q, %v; want the one message", keys, err)
	}

	env.SetGrants(sandbox.Grants{})
	status, _, msg = env.Run(t, env.Create(t, "idempotent_send", "", map[string]any{"to": "a", "message": "b"}), false)
	if status != task.Failed || msg != "capability kv not granted to plugin idempotent_send" {
		t.Fatalf("without the kv grant: status %s, error %q", status, msg)
	}
}
