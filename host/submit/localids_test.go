package submit

import (
	"context"
	"testing"
)

// TestLocalIDs: with Options.LocalIDs the ids of a submission are names local to it: the
// same tree, whose ids all exist already, is accepted again under new generated ids,
// with parent_id, dependencies and the tree id following; without it, it is refused.
func TestLocalIDs(t *testing.T) {
	t.Parallel()
	tree := `[
	 {"id": "report", "name": "Report", "task_tree_id": "my-tree", ` + agg + `, "dependencies": ["fetch", {"id": "parse", "required": false}]},
	 {"id": "fetch", "name": "Fetch", "parent_id": "report", ` + echo + `},
	 {"id": "parse", "name": "Parse", "parent_id": "report", ` + echo + `, "dependencies": ["fetch"]}
	]`
	exists := func(context.Context, string) (bool, error) { return true, nil }
	tests := []struct {
		name    string
		local   bool
		wantErr bool
	}{
		{"ids kept: they exist already", false, true},
		{"local ids: stored under new ones", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Exists: exists, TreeExists: exists, LocalIDs: tt.local}
			tasks, err := Prepare(context.Background(), []byte(tree), opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Prepare: %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			byName := map[string]int{}
			for i, tk := range tasks {
				byName[tk.Name] = i
				if tk.ID == "report" || tk.ID == "fetch" || tk.ID == "parse" || tk.ID == "" {
					t.Errorf("task %s kept the local id %q", tk.Name, tk.ID)
				}
			}
			report, fetch, parse := tasks[byName["Report"]], tasks[byName["Fetch"]], tasks[byName["Parse"]]
			for _, tk := range tasks {
				if tk.TaskTreeID != report.ID {
					t.Errorf("%s: task_tree_id %q, want the root's new id %q", tk.Name, tk.TaskTreeID, report.ID)
				}
			}
			if fetch.ParentID != report.ID || parse.ParentID != report.ID {
				t.Errorf("parents = %q, %q, want %q", fetch.ParentID, parse.ParentID, report.ID)
			}
			if d := report.Dependencies; len(d) != 2 || d[0].ID != fetch.ID || !d[0].Required || d[1].ID != parse.ID || d[1].Required {
				t.Errorf("report's dependencies = %+v", d)
			}
			if d := parse.Dependencies; len(d) != 1 || d[0].ID != fetch.ID {
				t.Errorf("parse's dependencies = %+v", d)
			}
		})
	}
}
