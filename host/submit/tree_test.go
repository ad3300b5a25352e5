package submit

import (
	"context"
	"encoding/json"
	"testing"
)

// TestTreeBuildsEqualTasks: a Tree builds a new task at every read, equal to the one
// before, and names its root. (TestPrepareBuildsTasks checks the fields of the tasks it
// builds, through Prepare.)
func TestTreeBuildsEqualTasks(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	input := `[
		{"name": "root", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a", "b"]},
		{"name": "a", "parent_id": "root", "priority": 0, "schemas": {"method": "count"}, "inputs": {"count": 1}},
		{"name": "b", "parent_id": "a", "schemas": {"method": "count"}, "inputs": {"count": 2},
		 "dependencies": [{"name": "a", "required": false}],
		 "schedule_type": "interval", "schedule_expression": "60", "schedule_enabled": true}
	]`
	tree, err := PrepareTree(context.Background(), []byte(input), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Len() != 3 || tree.RootID() != tree.Task(0).ID {
		t.Fatalf("Len %d, RootID %q, want 3 tasks rooted at %q", tree.Len(), tree.RootID(), tree.Task(0).ID)
	}
	wire := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i := range tree.Len() {
		first, second := tree.Task(i), tree.Task(i)
		if first == second {
			t.Errorf("task %d: the same *task.Task twice, want a new one at each read", i)
		}
		if wire(first) != wire(second) {
			t.Errorf("task %d read twice:\n%s\n%s", i, wire(first), wire(second))
		}
	}
	if !tree.Task(0).HasChildren || !tree.Task(1).HasChildren || tree.Task(2).HasChildren {
		t.Error("has_children is not set on exactly the parents")
	}
	if d := tree.Task(2).Dependencies; len(d) != 1 || d[0].ID != tree.Task(1).ID || d[0].Required {
		t.Errorf("b's dependencies %+v, want a, optional", d)
	}
	if tree.Task(2).NextRunAt.IsZero() {
		t.Error("b's next_run_at is not set")
	}
}
