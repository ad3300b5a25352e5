package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTreeFields: tasks.tree with fields answers each task with only those fields (as
// tasks.get writes them); an unknown field is refused, naming it.
func TestTreeFields(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", []map[string]any{
		{"id": "tf-root", "name": "root", "schemas": map[string]any{"method": "echo"}, "dependencies": []string{"tf-a"}},
		{"id": "tf-a", "name": "a", "parent_id": "tf-root", "schemas": map[string]any{"method": "echo"}},
	}, nil)
	var node struct {
		Task     map[string]json.RawMessage `json:"task"`
		Children []struct {
			Task     map[string]json.RawMessage `json:"task"`
			Children []any                      `json:"children"`
		} `json:"children"`
	}
	e.ok(t, "", "tasks.tree", map[string]any{"task_id": "tf-root", "fields": []string{"status", "id", "dependencies", "started_at"}}, &node)
	if len(node.Task) != 4 || string(node.Task["id"]) != `"tf-root"` || string(node.Task["status"]) != `"pending"` ||
		string(node.Task["started_at"]) != "null" || !strings.Contains(string(node.Task["dependencies"]), `"tf-a"`) {
		t.Fatalf("root = %v", node.Task)
	}
	if len(node.Children) != 1 || string(node.Children[0].Task["id"]) != `"tf-a"` || len(node.Children[0].Task) != 4 || node.Children[0].Children == nil {
		t.Fatalf("children = %+v", node.Children)
	}
	bad := e.fails(t, "", "tasks.tree", map[string]any{"task_id": "tf-root", "fields": []string{"id", "colour"}}, -32602)
	if d, _ := bad.Data.(map[string]any); d["field"] != "fields" || !strings.Contains(d["reason"].(string), `"colour"`) {
		t.Fatalf("unknown field: %+v", bad.Data)
	}
}
