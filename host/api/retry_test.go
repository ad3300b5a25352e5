package api

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// TestUpdateChecksRetryPolicy: tasks.update of params checks params.retry, naming the
// field at fault, and changes nothing when it is refused.
func TestUpdateChecksRetryPolicy(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", []map[string]any{{"id": "r", "name": "r", "schemas": map[string]any{"method": "echo"}}}, nil)
	for _, c := range []struct {
		retry map[string]any
		field string
	}{
		{map[string]any{"max_attempts": 0}, "params.retry.max_attempts"},
		{map[string]any{"backoff": map[string]any{"multiplier": 0.5}}, "params.retry.backoff.multiplier"},
		{map[string]any{"retry_on": []any{"always"}}, "params.retry.retry_on[0]"},
		{map[string]any{"tries": 3}, "params.retry.tries"},
	} {
		err := e.fails(t, "", "tasks.update", map[string]any{"task_id": "r", "params": map[string]any{"retry": c.retry}}, int(apferr.InvalidParams))
		if data, _ := err.Data.(map[string]any); data["field"] != c.field {
			t.Errorf("retry %v: error data %v, want field %s", c.retry, err.Data, c.field)
		}
	}
	var got map[string]any
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "r"}, &got)
	if got["params"] != nil {
		t.Fatalf("params after refused updates = %v, want unchanged (null)", got["params"])
	}
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "r", "params": map[string]any{"retry": map[string]any{"max_attempts": 3}}}, &got)
	if p, _ := got["params"].(map[string]any); p["retry"] == nil {
		t.Fatalf("params = %v, want the policy stored", got["params"])
	}
}
