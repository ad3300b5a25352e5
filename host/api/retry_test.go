package api

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// TestUpdateChecksParams: tasks.update of params checks them as a submission does
// (params.retry, params.executor_id), naming the field at fault, and changes nothing
// when it is refused.
func TestUpdateChecksParams(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", []map[string]any{{"id": "r", "name": "r", "schemas": map[string]any{"method": "echo"}}}, nil)
	retry := func(policy map[string]any) map[string]any { return map[string]any{"retry": policy} }
	for _, c := range []struct {
		params map[string]any
		field  string
	}{
		{retry(map[string]any{"max_attempts": 0}), "params.retry.max_attempts"},
		{retry(map[string]any{"backoff": map[string]any{"multiplier": 0.5}}), "params.retry.backoff.multiplier"},
		{retry(map[string]any{"retry_on": []any{"always"}}), "params.retry.retry_on[0]"},
		{retry(map[string]any{"tries": 3}), "params.retry.tries"},
		{map[string]any{"executor_id": 5}, "params.executor_id"},
		{map[string]any{"executor_id": ""}, "params.executor_id"},
	} {
		err := e.fails(t, "", "tasks.update", map[string]any{"task_id": "r", "params": c.params}, int(apferr.InvalidParams))
		if data, _ := err.Data.(map[string]any); data["field"] != c.field || data["task_id"] != "r" {
			t.Errorf("params %v: error data %v, want field %s of task r", c.params, err.Data, c.field)
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
