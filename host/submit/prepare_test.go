package submit

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

func TestPrepareBuildsTasks(t *testing.T) {
	t.Parallel()
	opts, cat := setup(t)
	input := `{"tasks": [
		{"name": "root", "schemas": {"method": "aggregate_results_executor"}, "user_id": "u1",
		 "dependencies": [{"name": "fetch"}, "count", {"id": "fetch", "type": "result"}]},
		{"id": "count-1", "name": "count", "parent_id": "root", "priority": 0,
		 "schemas": {"method": "count"}, "inputs": {"count": 3},
		 "params": {"limits": {"timeout_ms": 2000, "memory_pages": 32}}},
		{"name": "fetch", "parent_id": "count-1", "priority": 3, "schemas": {"method": "url"},
		 "inputs": {"url": "https://example.com"}, "dependencies": [{"id": "count-1", "required": false}],
		 "schedule_type": "interval", "schedule_expression": "3600", "schedule_enabled": true, "max_runs": 4}
	]}`
	tasks, err := Prepare(context.Background(), []byte(input), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 {
		t.Fatalf("%d tasks", len(tasks))
	}
	root, count, fetch := tasks[0], tasks[1], tasks[2]
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	for i, tk := range tasks {
		if tk.Status != task.Pending || tk.Seq != i || tk.TaskTreeID != root.ID || tk.UserID != "u1" ||
			tk.OriginType != "create" || !tk.CreatedAt.Equal(now) || !tk.UpdatedAt.Equal(now) {
			t.Errorf("task %d: %+v", i, tk)
		}
	}
	if root.ID != "gen-1" || fetch.ID != "gen-2" || count.ID != "count-1" {
		t.Errorf("ids %s %s %s", root.ID, count.ID, fetch.ID)
	}
	if root.ParentID != "" || count.ParentID != root.ID || fetch.ParentID != count.ID {
		t.Errorf("parents %q %q %q", root.ParentID, count.ParentID, fetch.ParentID)
	}
	if !root.HasChildren || !count.HasChildren || fetch.HasChildren {
		t.Errorf("has_children %v %v %v", root.HasChildren, count.HasChildren, fetch.HasChildren)
	}
	// Referred to by name, a dependency's result is injected under that name.
	wantDeps := []task.Dependency{{ID: fetch.ID, Required: true, Key: "fetch"}, {ID: count.ID, Required: true, Key: "count"}}
	if len(root.Dependencies) != 2 || root.Dependencies[0] != wantDeps[0] || root.Dependencies[1] != wantDeps[1] {
		t.Errorf("root dependencies %+v, want %+v (duplicate collapsed, first kept)", root.Dependencies, wantDeps)
	}
	if len(fetch.Dependencies) != 1 || fetch.Dependencies[0] != (task.Dependency{ID: count.ID, Required: false}) {
		t.Errorf("fetch dependencies %+v", fetch.Dependencies)
	}
	if root.Priority != task.DefaultPriority || count.Priority != 0 || fetch.Priority != 3 {
		t.Errorf("priorities %d %d %d", root.Priority, count.Priority, fetch.Priority)
	}
	if count.Limits != (task.Limits{TimeoutMS: 2000, MemoryPages: 32}) {
		t.Errorf("limits %+v", count.Limits)
	}
	if _, ok := count.Params["limits"]; ok {
		t.Error("params.limits left in params")
	}
	if root.Inputs == nil || len(root.Inputs) != 0 {
		t.Errorf("root inputs %v, want {}", root.Inputs)
	}
	if n, ok := count.Inputs["count"].(json.Number); !ok || n != "3" {
		t.Errorf("count inputs %#v", count.Inputs)
	}
	if !fetch.ScheduleEnabled || fetch.ScheduleType != "interval" || fetch.ScheduleExpression != "3600" || fetch.MaxRuns != 4 {
		t.Errorf("schedule %+v", fetch)
	}
	if got := cat.lookups.Load(); got != 3 {
		t.Errorf("%d catalog look-ups, want one per distinct executor (3)", got)
	}
	// The tasks survive the wire form unchanged.
	for _, tk := range tasks {
		b, err := json.Marshal(tk)
		if err != nil {
			t.Fatal(err)
		}
		var back task.Task
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.ID != tk.ID || !back.CreatedAt.Equal(tk.CreatedAt) || back.Limits != tk.Limits {
			t.Errorf("round trip changed %s", tk.Name)
		}
	}
}

func TestPrepareTreeIDAndUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		input       string
		userID      string
		defaultUser string
		wantTree    string
		wantUser    string
	}{
		{"root's task_tree_id", `[{"name": "r", "task_tree_id": "tree-9", "schemas": {"method": "echo"}},
			{"name": "c", "parent_id": "r", "task_tree_id": "other", "schemas": {"method": "echo"}}]`, "", "", "tree-9", ""},
		{"root id", `[{"id": "r-1", "name": "r", "schemas": {"method": "echo"}}]`, "", "", "r-1", ""},
		{"caller's user stamped", `[{"name": "r", "schemas": {"method": "echo"}}, {"name": "c", "parent_id": "r", "user_id": "alice", "schemas": {"method": "echo"}}]`,
			"alice", "", "gen-1", "alice"},
		{"one given user spreads", `[{"name": "r", "schemas": {"method": "echo"}}, {"name": "c", "parent_id": "r", "user_id": "bob", "schemas": {"method": "echo"}}]`,
			"", "", "gen-1", "bob"},
		{"the default user when none is given", `[{"name": "r", "schemas": {"method": "echo"}}, {"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`,
			"", "admin", "gen-1", "admin"},
		{"a given user wins over the default", `[{"name": "r", "schemas": {"method": "echo"}}, {"name": "c", "parent_id": "r", "user_id": "bob", "schemas": {"method": "echo"}}]`,
			"", "admin", "gen-1", "bob"},
		{"the caller's user wins over the default", `[{"name": "r", "schemas": {"method": "echo"}}]`,
			"alice", "admin", "gen-1", "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, _ := setup(t)
			opts.UserID, opts.DefaultUserID = tc.userID, tc.defaultUser
			tasks, err := Prepare(context.Background(), []byte(tc.input), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range tasks {
				if tk.TaskTreeID != tc.wantTree || tk.UserID != tc.wantUser {
					t.Errorf("task %s: tree %q user %q, want %q %q", tk.Name, tk.TaskTreeID, tk.UserID, tc.wantTree, tc.wantUser)
				}
			}
		})
	}
}

func TestPrepareOtherUserRefused(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	opts.UserID = "alice"
	_, err := Prepare(context.Background(), []byte(`{"name": "r", "user_id": "mallory", "schemas": {"method": "echo"}}`), opts)
	ae, ps := problemsOf(t, err)
	if ae.Code != -32004 {
		t.Errorf("code %d, want Unauthorized", ae.Code)
	}
	expectProblems(t, ps, want{task: "r", field: "user_id"})
}

func TestPrepareReferencesByIDBeforeName(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	// "b" is both the id of the first child and the name of the second: ids win.
	tasks, err := Prepare(context.Background(), []byte(`[
		{"name": "r", "schemas": {"method": "echo"}, "dependencies": ["b", {"name": "b"}]},
		{"id": "b", "name": "first", "parent_id": "r", "schemas": {"method": "echo"}},
		{"name": "b", "parent_id": "r", "schemas": {"method": "echo"}}]`), opts)
	if err != nil {
		t.Fatal(err)
	}
	deps := tasks[0].Dependencies
	if len(deps) != 2 || deps[0].ID != "b" || deps[1].ID != tasks[2].ID {
		t.Errorf("dependencies %+v", deps)
	}
}

func TestPrepareLenientInputsForDependents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"missing required, no dependencies", `[{"name": "r", "schemas": {"method": "count"}}]`, false},
		{"missing required, with dependency", `[{"name": "r", "schemas": {"method": "count"}, "dependencies": ["c"]},
			{"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`, true},
		{"anyOf satisfied after injection", `[{"name": "r", "schemas": {"method": "url"}, "dependencies": ["c"]},
			{"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`, true},
		{"wrong type still refused", `[{"name": "r", "schemas": {"method": "count"}, "inputs": {"count": true}, "dependencies": ["c"]},
			{"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`, false},
		{"task schema lenient too", `[{"name": "r", "schemas": {"method": "echo", "input_schema": {"required": ["q"]}}, "dependencies": ["c"]},
			{"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`, true},
		{"nested required not forgiven", `[{"name": "r", "schemas": {"method": "echo", "input_schema": {"properties": {"o": {"required": ["q"]}}}}, "inputs": {"o": {}}, "dependencies": ["c"]},
			{"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, _ := setup(t)
			_, err := Prepare(context.Background(), []byte(tc.input), opts)
			if (err == nil) != tc.ok {
				t.Errorf("error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestPrepareWithoutCatalog(t *testing.T) {
	t.Parallel()
	tasks, err := Prepare(context.Background(), []byte(`{"name": "r", "schemas": {"method": "anything"}}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(tasks[0].ID) {
		t.Errorf("generated id %q is not a UUID v7", tasks[0].ID)
	}
}

func TestPrepareNewIDCollisions(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	opts.NewID = func() string { return "x" }
	tasks, err := Prepare(context.Background(), []byte(`[{"name": "r", "schemas": {"method": "echo"}}, {"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`), opts)
	if err == nil {
		t.Fatalf("a constant NewID produced tasks %v", tasks)
	}
	opts.NewID = func() string { return "r" }
	if _, err := Prepare(context.Background(), []byte(`[{"id": "r", "name": "root", "schemas": {"method": "echo"}}, {"name": "c", "parent_id": "r", "schemas": {"method": "echo"}}]`), opts); err == nil {
		t.Fatal("a generated id equal to a given id was accepted")
	}
}
