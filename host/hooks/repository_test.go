package hooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// repoEnv stores a tree "r" (root r, children a, b pending; c completed, user u1) and
// returns a Repository on it.
func repoEnv(t *testing.T) (*env, *hooks.Repository) {
	t.Helper()
	v := setup(t, options{})
	mk := func(id string, st task.Status) *task.Task {
		tk := newTask(id, "echo", map[string]any{"k": json.Number("1")})
		tk.Status, tk.TaskTreeID, tk.StartedAt = st, "r", time.Time{}
		if id != "r" {
			tk.ParentID = "r"
		}
		if st == task.Completed {
			tk.StartedAt, tk.CompletedAt, tk.Progress, tk.UserID = tk.CreatedAt, tk.CreatedAt, 1, "u1"
		}
		return tk
	}
	v.create(mk("r", task.Pending), mk("a", task.Pending), mk("b", task.Pending), mk("c", task.Completed))
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return v, hooks.NewRepository(v.st, func() time.Time { return fixed })
}

func TestRepositoryOps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     string
		want    []string // substrings of the result
		wantErr string
	}{
		{"get", `{"op":"get_task","id":"a"}`, []string{`"id":"a"`, `"parent_id":"r"`, `"inputs":{"k":1}`}, ""},
		{"get missing", `{"op":"get_task","id":"zz"}`, nil, "get_task zz: Task zz not found"},
		{"get without id", `{"op":"get_task"}`, nil, `get_task: field "id" is required`},
		{"count pending", `{"op":"count_tasks","status":"pending"}`, []string{`{"count":3}`}, ""},
		{"count all of a tree", `{"op":"count_tasks","tree_id":"r"}`, []string{`{"count":4}`}, ""},
		{"count of a user", `{"op":"count_tasks","user_id":"u1"}`, []string{`{"count":1}`}, ""},
		{"count with limit", `{"op":"count_tasks","limit":3}`, nil, `count_tasks: fields "limit" and "offset" belong to list_tasks`},
		{"count bad status", `{"op":"count_tasks","status":"done"}`, nil, `count_tasks: field "status": "done" is not a task status`},
		{"list", `{"op":"list_tasks","status":"pending","limit":2}`, []string{`"total":3`}, ""},
		{"list completed", `{"op":"list_tasks","status":"completed"}`, []string{`"total":1`, `"id":"c"`}, ""},
		{"list none", `{"op":"list_tasks","tree_id":"nope"}`, []string{`{"tasks":[],"total":0}`}, ""},
		{"list limit too big", `{"op":"list_tasks","limit":1001}`, nil, `list_tasks: field "limit": must be 1..1000, got 1001`},
		{"list limit zero", `{"op":"list_tasks","limit":0}`, nil, `field "limit": must be 1..1000`},
		{"list negative offset", `{"op":"list_tasks","offset":-1}`, nil, `field "offset": must not be negative`},
		{"update priority and name", `{"op":"update_task","id":"a","fields":{"priority":0,"name":"urgent a"}}`,
			[]string{`"priority":0`, `"name":"urgent a"`, `"updated_at":"2030-01-02T03:04:05.000000Z"`, `"status":"pending"`}, ""},
		{"update params and schemas", `{"op":"update_task","id":"b","fields":{"params":{"p":1},"schemas":null}}`,
			[]string{`"params":{"p":1}`, `"schemas":null`}, ""},
		{"update priority too high", `{"op":"update_task","id":"a","fields":{"priority":4}}`, nil, `update_task a: field "priority": must be an integer 0..3, got 4`},
		{"update priority not integer", `{"op":"update_task","id":"a","fields":{"priority":1.5}}`, nil, `field "priority": must be an integer 0..3, got 1.5`},
		{"update priority string", `{"op":"update_task","id":"a","fields":{"priority":"1"}}`, nil, `field "priority": must be an integer 0..3, got "1"`},
		{"update empty name", `{"op":"update_task","id":"a","fields":{"name":""}}`, nil, `field "name": must be 1..255 characters, got 0`},
		{"update params not object", `{"op":"update_task","id":"a","fields":{"params":[1]}}`, nil, `field "params": must be an object or null`},
		// params are checked as tasks.update checks them: their limits, retry policy and executor_id.
		{"update params limits", `{"op":"update_task","id":"b","fields":{"params":{"p":1,"limits":{"timeout_ms":250}}}}`,
			[]string{`"params":{"p":1}`, `"limits":{"timeout_ms":250}`}, ""},
		{"update params bad limits", `{"op":"update_task","id":"a","fields":{"params":{"limits":{"timeout_ms":-5,"bogus":1}}}}`, nil,
			`field "params": params.limits.bogus: unknown limit; params.limits.timeout_ms: must be a non-negative integer`},
		{"update params bad retry", `{"op":"update_task","id":"a","fields":{"params":{"retry":{"max_attempts":"lots"}}}}`, nil,
			`field "params": params.retry.max_attempts: must be a number`},
		{"update params bad executor_id", `{"op":"update_task","id":"a","fields":{"params":{"executor_id":7}}}`, nil,
			`field "params": params.executor_id: must be a non-empty string (an executor id)`},
		{"update inputs refused", `{"op":"update_task","id":"a","fields":{"inputs":{}}}`, nil, `update_task a: field "inputs": cannot be updated by a hook: inputs change only through a pre-hook`},
		{"update status refused", `{"op":"update_task","id":"a","fields":{"status":"completed"}}`, nil, `field "status": cannot be updated by a hook`},
		{"update identity refused", `{"op":"update_task","id":"a","fields":{"user_id":"x"}}`, nil, `field "user_id": cannot be updated by a hook: identity fields never change`},
		{"update unknown field", `{"op":"update_task","id":"a","fields":{"colour":"red"}}`, nil, `field "colour": is not a field a hook can update`},
		{"update no fields", `{"op":"update_task","id":"a"}`, nil, `update_task a: field "fields" must be a non-empty object`},
		{"update missing task", `{"op":"update_task","id":"zz","fields":{"priority":1}}`, nil, `update_task zz: Task zz not found`},
		{"unknown op", `{"op":"delete_task","id":"a"}`, nil, `store_call: unknown op "delete_task"`},
		{"no op", `{"id":"a"}`, nil, `store_call: field "op" is required`},
		{"unknown member", `{"op":"get_task","id":"a","ids":["b"]}`, nil, `store_call: invalid request: json: unknown field "ids"`},
		{"not an object", `[1]`, nil, `store_call: invalid request`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, repo := repoEnv(t)
			out, err := repo.Call(context.Background(), json.RawMessage(tc.req))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Call(%s) = %s, %v; want error containing %q", tc.req, out, err, tc.wantErr)
				}
				// A refused update writes nothing.
				if a, _ := v.st.Get(context.Background(), "a"); a.Priority != task.DefaultPriority || a.Name != "a" {
					t.Fatalf("refused request changed task a: %+v", a)
				}
				return
			}
			if err != nil {
				t.Fatalf("Call(%s): %v", tc.req, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Fatalf("Call(%s) = %s, want it to contain %s", tc.req, out, w)
				}
			}
		})
	}
}

// Updates are persisted and visible to the next request (and the next hook).
func TestRepositoryUpdatePersists(t *testing.T) {
	t.Parallel()
	v, repo := repoEnv(t)
	ctx := context.Background()
	if _, err := repo.Call(ctx, json.RawMessage(`{"op":"update_task","id":"b","fields":{"priority":3}}`)); err != nil {
		t.Fatal(err)
	}
	b, err := v.st.Get(ctx, "b")
	if err != nil || b.Priority != 3 || b.Status != task.Pending || b.Inputs["k"] != json.Number("1") {
		t.Fatalf("stored b = %+v, %v", b, err)
	}
}

// store_call reaches the repository only for a hook granted `repository`.
func TestRepositoryGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		grants  map[string]sandbox.Grants
		want    string
		refused bool
	}{
		{"granted", map[string]sandbox.Grants{"repo": {Repository: true}}, `{"result":{"count":2}}`, false},
		{"not granted", nil, `capability repository not granted to plugin repo`, true},
		{"granted to another plugin", map[string]sandbox.Grants{"spy": {Repository: true}}, `not granted to plugin repo`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, options{files: []string{"repo"}, grants: tc.grants})
			v.create(newTask("p1", "echo", nil), newTask("p2", "echo", nil))
			for _, id := range []string{"p1", "p2"} {
				if _, err := v.st.Update(context.Background(), id, func(t *task.Task) error { t.Status = task.Pending; t.StartedAt = time.Time{}; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			_, errs := v.runner.Pre(context.Background(), newTask("x", "echo", nil), nil)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs) // a refusal is an answer to the hook, not a hook failure
			}
			lines := v.logs.Lines("hook=repo")
			found := false
			for _, l := range lines {
				found = found || strings.Contains(l, tc.want)
			}
			if !found {
				t.Fatalf("repo hook log = %q, want a line containing %s", lines, tc.want)
			}
			if tc.refused && strings.Contains(fmt.Sprint(lines), `"result"`) {
				t.Fatalf("ungranted hook got a result: %q", lines)
			}
		})
	}
}
