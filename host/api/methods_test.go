package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

func TestCreateGetTree(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var created []taskView
	e.ok(t, "", "tasks.create", tree("c"), &created)
	if len(created) != 3 || created[0].ID != "c-root" || created[0].Status != "pending" {
		t.Fatalf("created = %+v", created)
	}
	var one taskView
	e.ok(t, "", "tasks.create", map[string]any{"name": "solo", "schemas": map[string]any{"method": "echo"}}, &one)
	if one.ID == "" || one.Name != "solo" {
		t.Fatalf("single create = %+v", one)
	}
	var got taskView
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "c-a"}, &got)
	e.ok(t, "", "tasks.detail", map[string]any{"id": "c-a"}, &got)
	if got.ID != "c-a" || got.ParentID == nil || *got.ParentID != "c-root" {
		t.Fatalf("get = %+v", got)
	}
	nf := e.fails(t, "", "tasks.get", map[string]any{"task_id": "missing"}, -32001)
	if d, _ := nf.Data.(map[string]any); d["task_id"] != "missing" {
		t.Fatalf("not found data = %v", nf.Data)
	}
	var node struct {
		Task     taskView `json:"task"`
		Children []struct {
			Task     taskView `json:"task"`
			Children []any    `json:"children"`
		} `json:"children"`
	}
	e.ok(t, "", "tasks.tree", map[string]any{"root_id": "c-root"}, &node)
	if node.Task.ID != "c-root" || len(node.Children) != 2 || node.Children[0].Children == nil {
		t.Fatalf("tree = %+v", node)
	}
	var kids []taskView
	e.ok(t, "", "tasks.children", map[string]any{"parent_id": "c-root"}, &kids)
	if len(kids) != 2 || kids[0].ID != "c-b" { // priority 1 before 2
		t.Fatalf("children = %+v", kids)
	}
	var list []taskView
	e.ok(t, "", "tasks.list", map[string]any{}, &list)
	if len(list) != 2 { // roots only by default
		t.Fatalf("list = %+v", list)
	}
	e.ok(t, "", "tasks.list", map[string]any{"root_only": false, "limit": 2}, &list)
	if len(list) != 2 {
		t.Fatalf("paged list = %d", len(list))
	}
	var count map[string]any
	e.ok(t, "", "tasks.count", map[string]any{}, &count)
	if count["pending"] != float64(4) || count["total"] != float64(4) {
		t.Fatalf("count = %v", count)
	}
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	cycle := []map[string]any{
		{"name": "r", "schemas": map[string]any{"method": "echo"}},
		{"name": "a", "parent_id": "r", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{"b"}},
		{"name": "b", "parent_id": "r", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{"a"}},
	}
	for _, method := range []string{"tasks.create", "tasks.execute"} {
		params := any(cycle)
		if method == "tasks.execute" {
			params = map[string]any{"tasks": cycle}
		}
		err := e.fails(t, "", method, params, -32002)
		d, _ := err.Data.(map[string]any)
		if c, _ := d["cycle"].([]any); len(c) < 3 {
			t.Fatalf("%s: cycle path missing: %v", method, err.Data)
		}
	}
	e.fails(t, "", "tasks.create", []map[string]any{{"name": "x", "schemas": map[string]any{"method": "nope"}}}, -32003)
	e.fails(t, "", "tasks.create", []map[string]any{{"name": "x", "priority": 9, "schemas": map[string]any{"method": "echo"}}}, -32602)
	// A task of a submission is checked by the submission validator, whose problem names
	// the task and the field within it (not the params schema, which would name a path
	// in the params, or say the params are not the single-task form).
	for _, tc := range []struct {
		method string
		params func(task map[string]any) any
	}{
		{"tasks.create", func(tk map[string]any) any { return []map[string]any{tk} }},
		{"tasks.create", func(tk map[string]any) any { return map[string]any{"tasks": []map[string]any{tk}} }},
		{"tasks.create", func(tk map[string]any) any { return tk }}, // the single-task form
		{"tasks.execute", func(tk map[string]any) any { return map[string]any{"tasks": []map[string]any{tk}} }},
	} {
		for dep, field := range map[string]string{`{"id": 5}`: "dependencies[0].id", `{"id": "x", "requried": false}`: "dependencies[0].requried"} {
			var d any
			_ = json.Unmarshal([]byte(dep), &d)
			err := e.fails(t, "", tc.method, tc.params(map[string]any{"name": "x", "schemas": map[string]any{"method": "echo"},
				"dependencies": []any{d}}), -32602)
			data, _ := err.Data.(map[string]any)
			ps, _ := data["errors"].([]any)
			if len(ps) != 1 || ps[0].(map[string]any)["task_name"] != "x" || ps[0].(map[string]any)["field"] != field {
				t.Errorf("%s, dependency %s: error data %v, want one problem of task x at %s", tc.method, dep, err.Data, field)
			}
		}
	}
	// What is not a task object is still the params schema's to refuse.
	if err := e.fails(t, "", "tasks.execute", map[string]any{"tasks": []any{5}}, -32602); err.Data.(map[string]any)["field"] != "tasks.0" {
		t.Errorf("a task that is a number: error data %v, want field tasks.0", err.Data)
	}
	if err := e.fails(t, "", "tasks.execute", map[string]any{"tasks": []any{}}, -32602); err.Data.(map[string]any)["field"] != "tasks" {
		t.Errorf("no tasks: error data %v, want field tasks", err.Data)
	}
	var n map[string]any
	e.ok(t, "", "tasks.count", map[string]any{}, &n)
	if n["total"] != float64(0) {
		t.Fatalf("a rejected submission stored tasks: %v", n)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", tree("u"), nil)
	var got taskView
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-a", "name": "renamed", "priority": 0, "inputs": map[string]any{"z": 3}}, &got)
	if got.Name != "renamed" || got.Priority != 0 || got.Inputs["z"] != float64(3) {
		t.Fatalf("update = %+v", got)
	}
	// A whole number is an integer however it is written, as JSON Schema has it.
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-a", "priority": json.RawMessage("1.0")}, &got)
	if got.Priority != 1 {
		t.Fatalf("update of priority 1.0 = %+v", got)
	}
	// max_runs 0 is unlimited, as a submission's.
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-a", "max_runs": 0}, nil)
	tests := []struct {
		name   string
		params map[string]any
		code   int
	}{
		{"parent_id refused", map[string]any{"task_id": "u-a", "parent_id": "x"}, -32602},
		{"user_id refused", map[string]any{"task_id": "u-a", "user_id": "x"}, -32602},
		{"id refused", map[string]any{"task_id": "u-a", "id": "x"}, -32602},
		{"priority range", map[string]any{"task_id": "u-a", "priority": 7}, -32602},
		{"progress range", map[string]any{"task_id": "u-a", "progress": 2}, -32602},
		{"bad transition", map[string]any{"task_id": "u-a", "status": "completed"}, -32006},
		{"in_progress refused", map[string]any{"task_id": "u-a", "status": "in_progress"}, -32602},
		{"unknown task", map[string]any{"task_id": "nope", "name": "x"}, -32001},
		{"unknown dependency", map[string]any{"task_id": "u-a", "dependencies": []any{"nope"}}, -32011},
		{"self dependency", map[string]any{"task_id": "u-a", "dependencies": []any{"u-a"}}, -32002},
		{"cycle", map[string]any{"task_id": "u-a", "dependencies": []any{"u-root"}}, -32002},
		// A pending task's fields follow its status (docs/semantics.md rule 2).
		{"progress is stamped", map[string]any{"task_id": "u-a", "progress": 0.9}, -32602},
		{"started_at is stamped", map[string]any{"task_id": "u-a", "started_at": "2020-01-01T00:00:00Z"}, -32602},
		{"completed_at is stamped", map[string]any{"task_id": "u-a", "completed_at": "2020-01-01T00:00:00Z"}, -32602},
		{"a pending task has no result", map[string]any{"task_id": "u-a", "result": map[string]any{"stale": true}}, -32602},
		{"a pending task has no error", map[string]any{"task_id": "u-a", "error": "blocked: required dependency zz failed"}, -32602},
		{"nor with a name beside it", map[string]any{"task_id": "u-a", "name": "x", "error": "e"}, -32602},
		// An outcome the new status does not take is refused, not dropped.
		{"a cancel takes no result", map[string]any{"task_id": "u-a", "status": "cancelled", "result": 1}, -32602},
		// A task keeps an executor that is registered.
		{"unknown executor", map[string]any{"task_id": "u-a", "name": "x", "schemas": map[string]any{"method": "nope"}}, -32003},
		{"unknown executor_id", map[string]any{"task_id": "u-a", "params": map[string]any{"executor_id": "nope"}}, -32003},
		{"no executor left", map[string]any{"task_id": "u-a", "schemas": nil}, -32602},
	}
	for _, tt := range tests {
		e.fails(t, "", "tasks.update", tt.params, tt.code)
	}
	var unchanged map[string]any
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "u-a"}, &unchanged)
	for k, want := range map[string]any{"name": "renamed", "error": nil, "result": nil, "started_at": nil, "completed_at": nil, "progress": float64(0)} {
		if unchanged[k] != want {
			t.Errorf("refused updates wrote %s: %v", k, unchanged[k])
		}
	}
	stamped := e.fails(t, "", "tasks.update", map[string]any{"task_id": "u-a", "started_at": "2020-01-01T00:00:00Z"}, -32602)
	if !strings.Contains(stamped.Message, "task u-a") || !strings.Contains(stamped.Message, "stamped by the task's lifecycle") {
		t.Errorf("a refusal of started_at: %q, want the task and the reason", stamped.Message)
	}
	// An unknown reference and a cycle are reported together.
	both := e.fails(t, "", "tasks.update", map[string]any{"task_id": "u-a", "dependencies": []any{"u-root", "nope"}}, -32011)
	if !strings.Contains(both.Message, "nope") || !strings.Contains(both.Message, "cycle") {
		t.Fatalf("an unknown reference beside a cycle: %q, want both named", both.Message)
	}
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-a", "dependencies": []any{map[string]any{"id": "u-b", "required": false}}}, &got)
	if len(got.Deps) != 1 || got.Deps[0].ID != "u-b" || got.Deps[0].Required {
		t.Fatalf("deps = %+v", got.Deps)
	}
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-b", "status": "cancelled", "error": "no"}, &got)
	if got.Status != "cancelled" || got.Error == nil || *got.Error != "no" {
		t.Fatalf("cancel via update = %+v", got)
	}
	// A reset takes neither result nor error: refused, naming the field, not dropped;
	// null, as a client sending the whole task back gives them, is no value.
	for _, k := range []string{"result", "error"} {
		err := e.fails(t, "", "tasks.update", map[string]any{"task_id": "u-b", "status": "pending", k: "x"}, -32602)
		if d, _ := err.Data.(map[string]any); d["field"] != k {
			t.Errorf("a reset with %s: %v, want it refused naming %s", k, err.Data, k)
		}
	}
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-b", "status": "pending", "result": nil, "error": nil}, &got)
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-b", "status": "cancelled", "error": "no"}, &got)
	// A task whose executor comes from params alone: a bad executor_id is named as such.
	var byParams taskView
	e.ok(t, "", "tasks.create", map[string]any{"name": "p", "params": map[string]any{"executor_id": "echo"}}, &byParams)
	bad := e.fails(t, "", "tasks.update", map[string]any{"task_id": byParams.ID, "params": map[string]any{"executor_id": 7}}, -32602)
	if d, _ := bad.Data.(map[string]any); d["field"] != "params.executor_id" {
		t.Errorf("executor_id 7: %s %v, want it named", bad.Message, bad.Data)
	}
	// A cancelled task's message may change; it may not be emptied.
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "u-b", "error": "not needed"}, &got)
	if got.Error == nil || *got.Error != "not needed" {
		t.Fatalf("message of a cancelled task = %+v", got)
	}
	e.fails(t, "", "tasks.update", map[string]any{"task_id": "u-b", "error": nil}, -32602)
	e.fails(t, "", "tasks.update", map[string]any{"task_id": "u-b", "dependencies": []any{}}, -32602)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", tree("d"), nil)
	// d-a is depended on by d-root, which is outside d-a's subtree.
	e.fails(t, "", "tasks.delete", map[string]any{"task_id": "d-a"}, -32009)
	var res map[string]any
	e.ok(t, "", "tasks.delete", map[string]any{"task_id": "d-root"}, &res)
	if res["deleted_count"] != float64(3) || res["children_deleted"] != float64(2) {
		t.Fatalf("delete = %v", res)
	}
	e.fails(t, "", "tasks.get", map[string]any{"task_id": "d-a"}, -32001)
	e.ok(t, "", "tasks.create", tree("f"), nil)
	e.ok(t, "", "tasks.execute", map[string]any{"task_id": "f-root"}, nil)
	err := e.fails(t, "", "tasks.delete", map[string]any{"task_id": "f-root"}, -32009)
	if !strings.Contains(err.Message, "pending") {
		t.Fatalf("message = %s", err.Message)
	}
	e.ok(t, "", "tasks.delete", map[string]any{"task_id": "f-root", "force": true}, &res)
}

func TestExecute(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var res map[string]any
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("x")}, &res)
	if res["root_task_id"] != "x-root" || res["status"] != "completed" || res["protocol"] != "jsonrpc" || res["success"] != true {
		t.Fatalf("execute = %v", res)
	}
	var root taskView
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "x-root"}, &root)
	if root.Status != "completed" || root.Result == nil {
		t.Fatalf("root after run = %+v", root)
	}
	// Re-execute by id, a child, and a failing tree.
	e.ok(t, "", "tasks.execute", map[string]any{"task_id": "x-root", "full": true}, &res)
	if res["status"] != "completed" {
		t.Fatalf("re-execute = %v", res)
	}
	e.ok(t, "", "tasks.execute", map[string]any{"id": "x-a"}, &res)
	if res["task_id"] != "x-a" || res["root_task_id"] != "x-root" || res["status"] != "completed" {
		t.Fatalf("child execute = %v", res)
	}
	fail := []map[string]any{{"id": "bad", "name": "bad", "schemas": map[string]any{"method": "fail"}}}
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": fail}, &res)
	if res["status"] != "failed" {
		t.Fatalf("failing execute = %v", res)
	}
	e.fails(t, "", "tasks.execute", map[string]any{}, -32602)
	e.fails(t, "", "tasks.execute", map[string]any{"task_id": "nope"}, -32001)
	e.fails(t, "", "tasks.execute", map[string]any{"task_id": "x-root", "use_demo": true}, -32602)
	e.fails(t, "", "tasks.execute", map[string]any{"task_id": "x-root", "webhook_config": map[string]any{"url": "ftp://x"}}, -32602)
}

func TestAlreadyRunningCancelRunning(t *testing.T) {
	t.Parallel()
	e := setup(t, privateWebhooks)
	slow := []map[string]any{
		{"id": "s-root", "name": "s-root", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{"s-a"}},
		{"id": "s-a", "name": "s-a", "parent_id": "s-root", "schemas": map[string]any{"method": "sleep"}, "inputs": map[string]any{"ms": 30000}},
	}
	e.ok(t, "", "tasks.create", slow, nil)
	e.ok(t, "", "tasks.execute", map[string]any{"task_id": "s-root", "webhook_config": map[string]any{"url": "http://127.0.0.1:1/hook", "max_retries": 0}}, nil)
	waitFor(t, func() bool { return e.srv.rootRunning(t.Context(), "s-root", nil) })
	var res map[string]any
	e.ok(t, "", "tasks.execute", map[string]any{"task_id": "s-root"}, &res)
	if res["status"] != "already_running" || res["success"] != false {
		t.Fatalf("second execute = %v", res)
	}
	var list []taskView
	e.ok(t, "", "tasks.running.list", map[string]any{}, &list)
	if len(list) != 1 || list[0].ID != "s-root" {
		t.Fatalf("running.list = %+v", list)
	}
	var cnt map[string]any
	e.ok(t, "", "tasks.running.count", map[string]any{}, &cnt)
	if cnt["count"] != float64(1) {
		t.Fatalf("running.count = %v", cnt)
	}
	var st []map[string]any
	e.ok(t, "", "tasks.running.status", map[string]any{"task_ids": "s-a,nope"}, &st)
	if len(st) != 2 || st[0]["is_running"] != true || st[1]["status"] != "not_found" {
		t.Fatalf("running.status = %v", st)
	}
	var cancelled []map[string]any
	e.ok(t, "", "tasks.running.cancel", map[string]any{"task_ids": []string{"s-root", "nope"}, "error_message": "stop"}, &cancelled)
	if len(cancelled) != 2 || cancelled[0]["status"] != "cancelled" || cancelled[1]["status"] != "error" {
		t.Fatalf("cancel = %v", cancelled)
	}
	if ids, _ := cancelled[0]["cancelled_task_ids"].([]any); len(ids) != 2 || !slices.Contains(ids, any("s-root")) || !slices.Contains(ids, any("s-a")) {
		t.Fatalf("cancel of the root names the tasks it cancelled: %v", cancelled[0])
	}
	waitFor(t, func() bool { return !e.srv.rootRunning(t.Context(), "s-root", nil) })
	e.ok(t, "", "tasks.cancel", map[string]any{"task_ids": "s-root"}, &cancelled)
	if cancelled[0]["status"] != "failed" || !strings.Contains(cancelled[0]["message"].(string), "already") {
		t.Fatalf("cancel of a terminal task = %v", cancelled)
	}
}

func TestClone(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", tree("k"), nil)
	var copies []taskView
	e.ok(t, "", "tasks.clone", map[string]any{"task_id": "k-root"}, &copies)
	if len(copies) != 3 || copies[0].ID == "k-root" || copies[0].Status != "pending" {
		t.Fatalf("clone = %+v", copies)
	}
	var one taskView
	e.ok(t, "", "tasks.clone", map[string]any{"task_id": "k-b", "recursive": false}, &one)
	if one.ID == "" || one.ID == "k-b" {
		t.Fatalf("shallow clone = %+v", one)
	}
	e.fails(t, "", "tasks.clone", map[string]any{"task_id": "k-root", "origin_type": "link"}, -32005) // not completed
	e.fails(t, "", "tasks.clone", map[string]any{"task_id": "nope"}, -32001)
}

func TestSystem(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	var h map[string]any
	e.ok(t, "", "system.health", nil, &h)
	if h["status"] != "healthy" || h["version"] != "test" {
		t.Fatalf("health = %v", h)
	}
	var ex struct {
		Executors []struct {
			ID          string          `json:"id"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"executors"`
		Count int `json:"count"`
	}
	e.ok(t, "", "system.executors", nil, &ex)
	if ex.Count != 3 || ex.Executors[0].ID != "echo" {
		t.Fatalf("executors = %+v", ex)
	}
}

// TestAliasesNamingDifferentTasks: a method that takes one task id under several names
// (task_id, id, root_id, parent_id) refuses them naming different tasks, rather than
// silently choosing one; the same id under two names is that task.
func TestAliasesNamingDifferentTasks(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", tree("al"), nil)
	for _, tc := range []struct {
		method string
		params map[string]any
		field  string
	}{
		{"tasks.get", map[string]any{"task_id": "al-root", "id": "al-a"}, "id"},
		{"tasks.children", map[string]any{"parent_id": "al-root", "task_id": "al-a"}, "parent_id"},
		{"tasks.tree", map[string]any{"root_id": "al-root", "task_id": "al-a"}, "root_id"},
		{"tasks.logs", map[string]any{"task_id": "al-root", "id": "al-a"}, "id"},
	} {
		err := e.fails(t, "", tc.method, tc.params, int(apferr.InvalidParams))
		if data, _ := err.Data.(map[string]any); data["field"] != tc.field || !strings.Contains(err.Message, "name different tasks") {
			t.Errorf("%s %v: error %q %v, want the field %s named", tc.method, tc.params, err.Message, err.Data, tc.field)
		}
	}
	var got taskView
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "al-a", "id": "al-a"}, &got)
	if got.ID != "al-a" {
		t.Fatalf("tasks.get of one id under two names = %s", got.ID)
	}
}
